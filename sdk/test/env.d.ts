declare module 'vitest' {
  export interface ProvidedContext {
    /** The control plane the global setup started (test/helpers/sdk-workerd-setup.ts). */
    controlPlaneUrl: string;
  }
}

export {};
