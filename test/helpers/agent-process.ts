import { startLoggedProcess } from './logged-process.js';
import type { ExitStatus } from './processes.js';

export interface RunningAgent {
  agentId: string;
  /** Its process id (to pause it with SIGSTOP, say); set by startAgentProcess. */
  pid?: number;
  /** SIGTERM, then SIGKILL after 10 s; resolves with how it exited. */
  stop(): Promise<ExitStatus>;
  /** SIGKILL at once, as a crash or a power cut would: no shutdown code runs. */
  kill(): Promise<ExitStatus>;
  logs(): string;
}

/**
 * Runs `gpu-agent/src/main.ts` as its own process with only `env` (no shell environment leaks in) and
 * resolves once it logs `agent running`, with the agent id it logged.
 */
export async function startAgentProcess(env: Record<string, string>): Promise<RunningAgent> {
  const { value, ...process } = await startLoggedProcess({
    name: 'agent',
    args: ['--import', 'tsx', 'gpu-agent/src/main.ts'],
    // Nothing a test started outlives it, unless the test asks for the production default.
    env: { MERIDIAN_AGENT_ON_STOP: 'stop-workloads', ...env },
    ready: /"msg":"agent running","agentId":"([^"]+)"/,
    // Patient: tsx compiling the agent on a busy two-core machine has taken longer than 30 s.
    timeoutMs: 120_000,
  });
  return { agentId: value, ...process };
}
