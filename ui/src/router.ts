// Path routing with the History API: /search and /trace/:id (the server
// answers unknown paths with index.html, so every URL can be opened directly).

import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'search'; params: URLSearchParams }
  | { page: 'trace'; id: string; params: URLSearchParams }
  | { page: 'map'; params: URLSearchParams }
  | { page: 'incidents'; id: number | null; params: URLSearchParams }
  | { page: 'service'; name: string; params: URLSearchParams }
  | { page: 'autoscaling'; params: URLSearchParams }
  | { page: 'notfound'; path: string };

export function parseRoute(pathname: string, search: string): Route {
  const params = new URLSearchParams(search);
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/' || path === '/search') return { page: 'search', params };
  const m = /^\/trace\/([^/]+)$/.exec(path);
  if (m) return { page: 'trace', id: decodeURIComponent(m[1]), params };
  if (path === '/map') return { page: 'map', params };
  if (path === '/incidents') return { page: 'incidents', id: null, params };
  const inc = /^\/incidents\/(\d+)$/.exec(path);
  if (inc) return { page: 'incidents', id: Number(inc[1]), params };
  const svc = /^\/service\/([^/]+)$/.exec(path);
  if (svc) return { page: 'service', name: decodeURIComponent(svc[1]), params };
  if (path === '/autoscaling') return { page: 'autoscaling', params };
  return { page: 'notfound', path: pathname };
}

const listeners = new Set<() => void>();

export function navigate(url: string, { replace = false } = {}): void {
  const current = location.pathname + location.search;
  if (url === current) return;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  for (const l of listeners) l();
}

export function useRoute(): Route {
  const [loc, setLoc] = useState(() => location.pathname + location.search);
  useEffect(() => {
    const update = () => setLoc(location.pathname + location.search);
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  const q = loc.indexOf('?');
  return parseRoute(q < 0 ? loc : loc.slice(0, q), q < 0 ? '' : loc.slice(q));
}

// onClick for <a href>: in-app navigation for plain left clicks, the browser's
// own handling for new tabs and windows.
export function linkClick(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.currentTarget as HTMLElement).closest('a');
  if (!a || a.target) return;
  const href = a.getAttribute('href');
  if (!href || !href.startsWith('/')) return;
  e.preventDefault();
  navigate(href);
}

export function traceUrl(id: string): string {
  return `/trace/${encodeURIComponent(id)}`;
}

export function serviceUrl(name: string): string {
  return `/service/${encodeURIComponent(name)}`;
}

export function incidentUrl(id: number): string {
  return `/incidents/${id}`;
}
