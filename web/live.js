// The live link: /queries/events (Server-Sent Events) tells the dashboard when a
// snapshot is promoted and when a sync starts, fails or completes. EventSource
// reconnects by itself, resuming with Last-Event-ID; when the stream is refused
// (a non-200 answer closes it for good) the dashboard polls, and tries the
// stream again a little later.

const RETRY_CLOSED_MS = 15_000;

/**
 * Subscribe to the stream. `handlers.snapshot(data)` and `handlers.sync(data)` get
 * each event's JSON; `handlers.state(name)` gets "live", "reconnecting" or "polling".
 * Returns a function that closes the stream.
 */
export function subscribe(handlers, url = "/queries/events") {
  let source = null;
  let retry = null;
  let closed = false;

  function parse(event, handler) {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      return; // not ours to show
    }
    handler(data);
  }

  function open() {
    retry = null;
    if (closed) return;
    if (typeof window.EventSource !== "function") {
      handlers.state("polling");
      return;
    }
    source = new window.EventSource(url);
    source.addEventListener("open", () => handlers.state("live"));
    source.addEventListener("snapshot", (event) => parse(event, handlers.snapshot));
    source.addEventListener("sync", (event) => parse(event, handlers.sync));
    source.addEventListener("error", () => {
      if (source.readyState === window.EventSource.CLOSED) {
        handlers.state("polling");
        source = null;
        retry = window.setTimeout(open, RETRY_CLOSED_MS);
      } else {
        handlers.state("reconnecting");
      }
    });
  }

  open();
  return () => {
    closed = true;
    if (retry !== null) window.clearTimeout(retry);
    source?.close();
  };
}
