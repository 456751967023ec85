// The search page: the form (its state is the URL's query string), a
// duration-over-time scatter plot and the list of matching traces.

import { useEffect, useMemo, useState } from 'preact/hooks';

import { Scatter } from '../components/scatter';
import { fetchOperations, fetchServices, searchTraces } from '../lib/api';
import { serviceColor } from '../lib/colors';
import { formatAgo, formatDuration, formatTime } from '../lib/format';
import {
  canSearch, formFromUrlParams, formToApiQuery, formToUrlParams, kLookbacks, sortSummaries,
  type SearchForm, type SortKey,
} from '../lib/search';
import { summarizeTrace, type TraceSummary } from '../lib/trace';
import { linkClick, navigate, traceUrl } from '../router';

type Results =
  | { state: 'idle' }
  | { state: 'loading' }
  | { state: 'error'; message: string }
  | { state: 'done'; traces: TraceSummary[]; tookMs: number };

export function SearchPage({ params }: { params: URLSearchParams }) {
  const urlKey = params.toString();
  const fromUrl = useMemo(() => formFromUrlParams(params), [urlKey]);
  const [form, setForm] = useState<SearchForm>(fromUrl);
  const [services, setServices] = useState<string[] | null>(null);
  const [servicesError, setServicesError] = useState('');
  const [operations, setOperations] = useState<string[]>([]);
  const [results, setResults] = useState<Results>({ state: 'idle' });
  const [sort, setSort] = useState<SortKey>('recent');
  const [formErrors, setFormErrors] = useState<string[]>([]);
  const [run, setRun] = useState(0);

  useEffect(() => setForm(fromUrl), [fromUrl]);
  useEffect(() => {
    document.title = fromUrl.service ? `Search ${fromUrl.service} · Ariadne` : 'Search · Ariadne';
  }, [fromUrl]);

  useEffect(() => {
    const ac = new AbortController();
    fetchServices(ac.signal).then(setServices, (e) => {
      if (!ac.signal.aborted) setServicesError(String(e.message ?? e));
    });
    return () => ac.abort();
  }, []);

  useEffect(() => {
    setOperations([]);
    if (!form.service) return;
    const ac = new AbortController();
    fetchOperations(form.service, ac.signal).then(setOperations, () => {});
    return () => ac.abort();
  }, [form.service]);

  // The URL drives the search: opening a shared link runs it.
  useEffect(() => {
    if (!canSearch(fromUrl)) {
      setResults({ state: 'idle' });
      return;
    }
    const { query, errors } = formToApiQuery(fromUrl);
    setFormErrors(errors);
    if (errors.length > 0) return;
    const ac = new AbortController();
    const t0 = performance.now();
    setResults({ state: 'loading' });
    searchTraces(query, ac.signal).then(
      (traces) => setResults({
        state: 'done', traces: traces.map(summarizeTrace), tookMs: performance.now() - t0,
      }),
      (e) => {
        if (!ac.signal.aborted) setResults({ state: 'error', message: String(e.message ?? e) });
      });
    return () => ac.abort();
  }, [fromUrl, run]);

  const set = (k: keyof SearchForm) => (e: Event) => {
    const v = (e.currentTarget as HTMLInputElement).value;
    setForm((f) => (k === 'service' ? { ...f, service: v, operation: '' } : { ...f, [k]: v }));
  };

  const submit = (e: Event) => {
    e.preventDefault();
    const { errors } = formToApiQuery(form);
    setFormErrors(errors);
    if (errors.length > 0) return;
    const qs = formToUrlParams(form).toString();
    const url = `/search${qs ? `?${qs}` : ''}`;
    if (url === location.pathname + location.search) setRun((r) => r + 1); // the same search again
    else navigate(url);
  };

  const sorted = results.state === 'done' ? sortSummaries(results.traces, sort) : [];
  const serviceOptions = services ?? [];
  const knownService = form.service === '' || serviceOptions.includes(form.service);

  return (
    <div class="search-page">
      <form class="search-form" onSubmit={submit} data-testid="search-form">
        <label>
          Service
          <select name="service" value={form.service} onChange={set('service')}>
            <option value="">{services === null ? 'loading…' : 'choose a service'}</option>
            {!knownService && <option value={form.service}>{form.service}</option>}
            {serviceOptions.map((s) => <option value={s} key={s}>{s}</option>)}
          </select>
        </label>
        <label>
          Operation
          <select name="operation" value={form.operation} onChange={set('operation')}>
            <option value="">all</option>
            {form.operation !== '' && !operations.includes(form.operation) &&
              <option value={form.operation}>{form.operation}</option>}
            {operations.map((o) => <option value={o} key={o}>{o}</option>)}
          </select>
        </label>
        <label class="wide">
          Tags
          <input name="tags" value={form.tags} onInput={set('tags')} spellcheck={false}
            placeholder='http.status_code=500 error=true' />
        </label>
        <label>
          Min duration
          <input name="minDuration" value={form.minDuration} onInput={set('minDuration')} placeholder="e.g. 100ms" size={8} />
        </label>
        <label>
          Max duration
          <input name="maxDuration" value={form.maxDuration} onInput={set('maxDuration')} placeholder="e.g. 2s" size={8} />
        </label>
        <label>
          Lookback
          <select name="lookback" value={form.lookback} onChange={set('lookback')}>
            {!kLookbacks.includes(form.lookback) && <option value={form.lookback}>{form.lookback}</option>}
            {kLookbacks.map((l) => <option value={l} key={l}>{l}</option>)}
          </select>
        </label>
        <label>
          Limit
          <input name="limit" value={form.limit} onInput={set('limit')} size={5} inputMode="numeric" />
        </label>
        <button type="submit" disabled={!canSearch(form)}>Find traces</button>
      </form>
      {servicesError && <div class="error">Could not load services: {servicesError}</div>}
      {formErrors.length > 0 && <div class="error">{formErrors.join('; ')}</div>}

      {results.state === 'idle' && services !== null && (
        <div class="message">
          {services.length === 0 ? 'No services have sent spans yet.' : 'Choose a service and find traces.'}
        </div>
      )}
      {results.state === 'loading' && <div class="message">Searching…</div>}
      {results.state === 'error' && <div class="error">Search failed: {results.message}</div>}
      {results.state === 'done' && (
        <div class="results" data-testid="results">
          <Scatter traces={results.traces} onOpen={(id) => navigate(traceUrl(id))} />
          <div class="results-bar">
            <span data-testid="result-count">
              {results.traces.length} trace{results.traces.length === 1 ? '' : 's'}
            </span>
            <span class="muted"> in {results.tookMs.toFixed(0)} ms</span>
            <label class="sort">
              Sort
              <select value={sort} onChange={(e) => setSort((e.currentTarget as HTMLSelectElement).value as SortKey)}>
                <option value="recent">most recent</option>
                <option value="longest">longest first</option>
                <option value="shortest">shortest first</option>
                <option value="spans">most spans</option>
              </select>
            </label>
          </div>
          {sorted.length === 0 && <div class="message">No traces match.</div>}
          <ul class="result-list">
            {sorted.map((t) => <ResultItem t={t} key={t.traceID} />)}
          </ul>
        </div>
      )}
    </div>
  );
}

function ResultItem({ t }: { t: TraceSummary }) {
  return (
    <li class="result" data-trace-id={t.traceID}>
      <a href={traceUrl(t.traceID)} onClick={linkClick} class="result-link">
        <span class="result-name">
          <span class="svc-dot" style={{ background: serviceColor(t.rootService) }} />
          {t.rootService}: {t.rootOperation}
          {t.errorCount > 0 && (
            <span class="badge err" title={`${t.errorCount} spans with errors`}>
              {t.errorCount} error{t.errorCount === 1 ? '' : 's'}
            </span>
          )}
        </span>
        <span class="result-duration">{formatDuration(t.durationUs)}</span>
      </a>
      <div class="result-meta">
        <span class="mono muted">{t.traceID.slice(0, 16)}</span>
        <span>{t.spanCount} span{t.spanCount === 1 ? '' : 's'}</span>
        <span title={formatTime(t.startUs)}>{formatTime(t.startUs)} ({formatAgo(t.startUs)})</span>
        <span class="chips">
          {t.services.map((s) => (
            <span class="chip" key={s.service} style={{ borderColor: serviceColor(s.service) }}>
              {s.service} {s.spans}
            </span>
          ))}
        </span>
      </div>
    </li>
  );
}
