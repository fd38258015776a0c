/** Where the app finds the API and the edge: /config.json beside the app (the control plane writes it). */
export interface DashboardConfig {
  apiUrl: string;
  edgeUrl: string;
}

export async function loadConfig(): Promise<DashboardConfig> {
  const fallback = { apiUrl: window.location.origin, edgeUrl: '' };
  try {
    const res = await fetch('/config.json', { cache: 'no-store' });
    if (!res.ok) return fallback;
    const json = (await res.json()) as Partial<DashboardConfig>;
    return { apiUrl: json.apiUrl ?? fallback.apiUrl, edgeUrl: json.edgeUrl ?? '' };
  } catch {
    return fallback;
  }
}
