import { type ModelRegistry, pickModel, type ServedModel } from '../data-plane/models.js';

/**
 * The data plane's view of the models the control loop has loaded; changes as workloads come and go.
 * Several workloads may serve one name (the deployment id) on this agent: two replicas, or an old and a new
 * version during a rolling update. Each keeps its own entry, so unloading one leaves the others serving.
 */
export class ServedModels implements ModelRegistry {
  /** Entries per name, oldest first. */
  private readonly byName = new Map<string, ServedModel[]>();

  get(name: string, version?: string): ServedModel | undefined {
    return pickModel(this.byName.get(name) ?? [], version);
  }

  list(): ServedModel[] {
    return [...this.byName.values()].flat();
  }

  add(model: ServedModel): void {
    this.byName.set(model.name, [...(this.byName.get(model.name) ?? []), model]);
  }

  /** Stops serving `model` alone, failing its queued requests; other entries of its name keep serving. */
  remove(model: ServedModel): void {
    const rest = (this.byName.get(model.name) ?? []).filter((m) => m !== model);
    if (rest.length > 0) this.byName.set(model.name, rest);
    else this.byName.delete(model.name);
    model.ready = false;
    model.batcher.close(new Error(`model '${model.name}' version '${model.version}' was unloaded`));
  }
}
