import { AppError } from '../../errors.js';
import { DEFAULT_SCRYPT, hashPassword, type ScryptParams, verifyPassword } from '../../lib/password.js';
import { QueueFull, WorkQueue } from '../../lib/work-queue.js';

export interface PasswordWorkSettings {
  /** scrypt jobs at once (each holds a libuv thread and 32 MiB); the pool has 4 threads by default. */
  concurrency: number;
  /** Logins and password changes that may wait for a slot; past it they get 429 at once. */
  maxQueuedChecks: number;
  /** Registrations that may wait; kept apart so a registration flood cannot delay a login. */
  maxQueuedHashes: number;
  scrypt?: ScryptParams;
}

export const DEFAULT_PASSWORD_WORK: PasswordWorkSettings = {
  concurrency: 2,
  maxQueuedChecks: 64,
  maxQueuedHashes: 16,
};

const busy = () =>
  new AppError('too_many_requests', 'The server is busy checking passwords; retry shortly', undefined, {
    'retry-after': '1',
  });

/**
 * Every scrypt computation goes through one bounded queue: password checks in the high lane, new hashes
 * (registration, password change) in the low one. `onCheck` is told of each password check that runs,
 * which the control plane exports as meridian_cp_password_checks_total.
 */
export class PasswordWork {
  private readonly queue: WorkQueue;
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly settings: PasswordWorkSettings = DEFAULT_PASSWORD_WORK,
    private readonly onCheck: () => void = () => {},
    private readonly onRefused: () => void = () => {},
  ) {
    this.queue = new WorkQueue(settings.concurrency, {
      high: settings.maxQueuedChecks,
      low: settings.maxQueuedHashes,
    });
  }

  hash(password: string): Promise<string> {
    return this.run('low', () => hashPassword(password, this.settings.scrypt ?? DEFAULT_SCRYPT));
  }

  /** Checks `password` against `stored`; with no stored hash (unknown account) it costs the same and fails. */
  async verify(password: string, stored: string | undefined): Promise<boolean> {
    this.dummyHash ??= hashPassword('not a real password', this.settings.scrypt ?? DEFAULT_SCRYPT);
    const hash = stored ?? (await this.dummyHash);
    return this.run('high', () => {
      this.onCheck();
      return verifyPassword(password, hash);
    }).then((ok) => ok && stored !== undefined);
  }

  private async run<T>(lane: 'high' | 'low', job: () => Promise<T>): Promise<T> {
    try {
      return await this.queue.run(lane, job);
    } catch (err) {
      if (err instanceof QueueFull) {
        this.onRefused();
        throw busy();
      }
      throw err;
    }
  }
}
