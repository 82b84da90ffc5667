// The live event stream (GET /api/v1/events, server-sent events). The
// browser's EventSource reconnects by itself after a network error; when the
// daemon refuses the stream (401, 503) it gives up, and Live tries again
// with a growing delay.

import { api, APIError, eventsURL } from "./api.js";

const KINDS = ["queued", "started", "retrying", "succeeded", "failed", "canceled", "resync"];
const MAX_BACKOFF = 30000;

export class Live {
  // onEvent gets each event ({kind, id, queue, name, at}); onOpen is called
  // at every (re)connection, when events may have been missed; onStatus gets
  // "connecting", "live", "offline" or "unauthorized".
  constructor({ onEvent, onOpen, onStatus }) {
    this.onEvent = onEvent;
    this.onOpen = onOpen;
    this.onStatus = onStatus;
    this.es = null;
    this.timer = 0;
    this.backoff = 1000;
  }

  connect() {
    this.close();
    this.onStatus("connecting");
    const es = new EventSource(eventsURL());
    this.es = es;
    es.onopen = () => {
      if (this.es !== es) return;
      this.backoff = 1000;
      this.onStatus("live");
      this.onOpen();
    };
    es.onerror = () => {
      if (this.es !== es) return;
      if (es.readyState === EventSource.CLOSED) this.retry();
      else this.onStatus("connecting"); // EventSource reconnects by itself
    };
    for (const kind of KINDS) {
      es.addEventListener(kind, (msg) => {
        if (this.es !== es) return;
        let e;
        try {
          e = JSON.parse(msg.data);
        } catch {
          return;
        }
        this.onEvent(e);
      });
    }
  }

  // retry asks the API why the stream was refused, then connects again
  // later; without a valid token it waits for a new one (connect).
  retry() {
    this.close();
    this.onStatus("offline");
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF);
    this.timer = setTimeout(async () => {
      try {
        await api("GET", "/api/v1/stats");
      } catch (err) {
        if (err instanceof APIError && err.status === 401) {
          this.onStatus("unauthorized");
          return;
        }
      }
      this.connect();
    }, delay);
  }

  close() {
    clearTimeout(this.timer);
    if (this.es) {
      this.es.close();
      this.es = null;
    }
  }
}
