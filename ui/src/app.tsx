import { linkClick, navigate, traceUrl, useRoute } from './router';
import { SearchPage } from './pages/search';
import { TracePage } from './pages/trace';

export function App() {
  const route = useRoute();
  return (
    <div class="app">
      <nav class="topnav">
        <a class="brand" href="/search" onClick={linkClick}>Ariadne</a>
        <a href="/search" onClick={linkClick} class={route.page === 'search' ? 'active' : ''}>Search</a>
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
      </nav>
      <main class="content">
        {route.page === 'search' && <SearchPage params={route.params} />}
        {route.page === 'trace' && <TracePage key={route.id} id={route.id} />}
        {route.page === 'notfound' && (
          <div class="message">
            No page at <code>{route.path}</code>. <a href="/search" onClick={linkClick}>Search traces</a>
          </div>
        )}
      </main>
    </div>
  );
}
