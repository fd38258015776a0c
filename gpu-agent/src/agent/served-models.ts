import type { ModelRegistry, ServedModel } from '../data-plane/models.js';

/** The data plane's view of the models the control loop has loaded; changes as workloads come and go. */
export class ServedModels implements ModelRegistry {
  private readonly byName = new Map<string, ServedModel>();

  get(name: string): ServedModel | undefined {
    return this.byName.get(name);
  }

  list(): ServedModel[] {
    return [...this.byName.values()];
  }

  add(model: ServedModel): void {
    this.byName.set(model.name, model);
  }

  /** Stops serving `model`, failing its queued requests; a newer model of the same name stays. */
  remove(model: ServedModel): void {
    if (this.byName.get(model.name) === model) this.byName.delete(model.name);
    model.ready = false;
    model.batcher.close(new Error(`model '${model.name}' was unloaded`));
  }
}
