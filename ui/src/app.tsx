import { linkClick, navigate, traceUrl, useRoute } from './router';
import { SearchPage } from './pages/search';
import { TracePage } from './pages/trace';
import { MapPage } from './pages/map';
import { IncidentsPage } from './pages/incidents';
import { ServicePage } from './pages/service';
import { AutoscalingPage } from './pages/autoscaling';
import { loadAccess, saveAccess } from './lib/access';

// The token and tenant sent with API requests; saving reloads the page so
// that every view asks again with them.
function AccessForm() {
  const a = loadAccess();
  return (
    <details class="access">
      <summary>{a.tenant ? `Access: ${a.tenant}` : 'Access'}</summary>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const f = e.currentTarget as HTMLFormElement;
          const value = (name: string) => (f.elements.namedItem(name) as HTMLInputElement).value;
          saveAccess({ token: value('token'), tenant: value('tenant') });
          window.location.reload();
        }}
      >
        <label>Token <input name="token" type="password" value={a.token} autocomplete="off" /></label>
        <label>Tenant <input name="tenant" value={a.tenant} spellcheck={false} /></label>
        <button type="button" onClick={(e) => (e.currentTarget as HTMLButtonElement).form?.requestSubmit()}>
          Save
        </button>
      </form>
    </details>
  );
}

export function App() {
  const route = useRoute();
  return (
    <div class="app">
      <nav class="topnav">
        <a class="brand" href="/search" onClick={linkClick}>Ariadne</a>
        <a href="/search" onClick={linkClick} class={route.page === 'search' ? 'active' : ''}>Search</a>
        <a href="/map" onClick={linkClick} class={route.page === 'map' || route.page === 'service' ? 'active' : ''}>Service map</a>
        <a href="/incidents" onClick={linkClick} class={route.page === 'incidents' ? 'active' : ''}>Incidents</a>
        <a href="/autoscaling" onClick={linkClick} class={route.page === 'autoscaling' ? 'active' : ''}>Autoscaling</a>
        <form
          class="jump"
          onSubmit={(e) => {
            e.preventDefault();
            const input = (e.currentTarget as HTMLFormElement).elements.namedItem('id') as HTMLInputElement;
            const id = input.value.trim();
            if (id) {
              input.value = '';
              navigate(traceUrl(id));
            }
          }}
        >
          <input name="id" placeholder="Trace ID" aria-label="Open trace by id" spellcheck={false} />
        </form>
        <AccessForm />
      </nav>
      <main class="content">
        {route.page === 'search' && <SearchPage params={route.params} />}
        {route.page === 'trace' && <TracePage key={route.id} id={route.id} />}
        {route.page === 'map' && <MapPage params={route.params} />}
        {route.page === 'incidents' && <IncidentsPage id={route.id} />}
        {route.page === 'service' && <ServicePage key={route.name} name={route.name} params={route.params} />}
        {route.page === 'autoscaling' && <AutoscalingPage params={route.params} />}
        {route.page === 'notfound' && (
          <div class="message">
            No page at <code>{route.path}</code>. <a href="/search" onClick={linkClick}>Search traces</a>
          </div>
        )}
      </main>
    </div>
  );
}
