/**
 * How the API asks the scheduler to look again now (a deployment or notebook changed) instead of at its next
 * tick. Only a hint: the scheduler converges on its own interval whether or not anyone kicks it.
 */
export interface SchedulerTrigger {
  kick(): void;
}

/** For apps that run no scheduler (tests of the API alone): kicks go nowhere. */
export const noScheduler: SchedulerTrigger = { kick: () => {} };
