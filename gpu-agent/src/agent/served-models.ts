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

  /**
   * Serves `next` in `current`'s place (new settings on the same session). `current` takes no new request,
   * and the ones it already holds run to their end: a setting that changes live drops no call.
   */
  replace(current: ServedModel, next: ServedModel): void {
    const entries = this.byName.get(current.name) ?? [];
    const at = entries.indexOf(current);
    if (at < 0 || next.name !== current.name) throw new Error(`model '${current.name}' is not served here`);
    const updated = [...entries];
    updated[at] = next;
    this.byName.set(current.name, updated);
    current.ready = false;
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
