// fleetops status page: keeps the page live (Server-Sent Events), filters and sorts in place.
// No framework, no build step. The page works without this file, as a snapshot.
(function () {
  "use strict";
  const params = new URLSearchParams(location.search);
  let sort = params.get("sort") || "attention";
  const live = document.getElementById("live");
  const q = document.getElementById("q");
  const sortSelect = document.getElementById("sort");

  function cellValue(row, key) {
    if (key === "attention") return parseInt(row.dataset.rank || "9", 10);
    const cells = { name: 0, pool: 1, container: 2, state: 3, health: 4, strategy: 5, exchange: 6, allocation: 8, loop: 9, open: 10, profit: 11 };
    const cell = row.cells[cells[key]];
    if (!cell) return "";
    const text = cell.textContent.trim();
    if (["allocation", "open", "profit"].includes(key)) return text === "–" ? null : parseFloat(text.replace(/,/g, ""));
    if (key === "loop") {
      if (text === "–") return null;
      const [n, unit] = text.split(" ");
      return parseFloat(n) * ({ s: 1, min: 60, h: 3600 }[unit] || 1);
    }
    if (key === "state") return ({ failing: 0, stopped: 1, unknown: 2, draining: 3, running: 4, disabled: 5 })[text] ?? 9;
    if (key === "health") return ({ missing: 0, failed: 1, degraded: 2, progressing: 3, healthy: 4 })[text] ?? 9;
    return text.toLowerCase();
  }

  function arrange() {
    const body = document.querySelector("#bots tbody");
    if (!body) return;
    const rows = Array.from(body.rows).filter((r) => r.dataset.name);
    const key = sort.replace(/^-/, "");
    const dir = sort.startsWith("-") ? -1 : 1;
    rows.sort((a, b) => {
      const x = cellValue(a, key), y = cellValue(b, key);
      if (x === y) return a.dataset.name.localeCompare(b.dataset.name);
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : 1) * dir;
    });
    const needle = (q ? q.value : "").trim().toLowerCase();
    let shown = 0;
    for (const row of rows) {
      const match = !needle || Array.from(row.cells).slice(0, 8).some((c) => c.textContent.toLowerCase().includes(needle));
      row.hidden = !match;
      shown += match ? 1 : 0;
      body.appendChild(row);
    }
    const counter = document.getElementById("shown");
    if (counter) counter.textContent = shown + " of " + rows.length + " bots";
    document.querySelectorAll("#bots th a[data-sort]").forEach((a) => {
      a.removeAttribute("aria-sort");
      if (a.dataset.sort === key) a.setAttribute("aria-sort", dir < 0 ? "descending" : "ascending");
    });
  }

  function remember() {
    const url = new URL(location.href);
    url.searchParams.set("sort", sort);
    if (q && q.value) url.searchParams.set("q", q.value); else url.searchParams.delete("q");
    history.replaceState(null, "", url);
  }

  document.querySelectorAll("#bots th a[data-sort]").forEach((a) => {
    a.addEventListener("click", (event) => {
      event.preventDefault();
      sort = sort === a.dataset.sort ? "-" + a.dataset.sort : a.dataset.sort;
      if (sortSelect) sortSelect.value = sort;
      arrange(); remember();
    });
  });
  if (q) q.addEventListener("input", () => { arrange(); remember(); });
  if (sortSelect) sortSelect.addEventListener("change", () => { sort = sortSelect.value; arrange(); remember(); });
  const form = document.querySelector("form.filter");
  if (form) form.addEventListener("submit", (event) => event.preventDefault());

  // Live: the server pushes the new fragments whenever the fleet changes; they replace the old
  // ones (the server escaped every value), then the current filter and order are applied again.
  const summary = document.getElementById("summary");
  if (!summary || !window.EventSource) { arrange(); return; }
  function connect() {
    const source = new EventSource("/events?page=" + encodeURIComponent(document.body.dataset.page || "fleet"));
    source.addEventListener("fleet", (event) => {
      const data = JSON.parse(event.data);
      summary.innerHTML = data.summary;
      summary.dataset.version = data.version;
      document.querySelector("#bots tbody").innerHTML = data.bots;
      document.querySelector("#containers tbody").innerHTML = data.containers;
      arrange();
    });
    source.onopen = () => { live.textContent = "live"; live.className = "live on"; };
    source.onerror = () => {
      live.textContent = "reconnecting"; live.className = "live off";
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
    };
  }
  arrange();
  connect();
})();
