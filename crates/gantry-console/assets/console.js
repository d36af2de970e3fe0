// Gantry console: live updates from server-sent events, the node tree's disclosure buttons, JSON checks in run
// forms, and one-key shortcuts. Everything else is plain HTML and htmx.
(function () {
  "use strict";

  const PARENT_PHASES = ["spec_accepted", "children_running", "assembling"];

  // Live updates: counters and the phases of the nodes on screen, from /executions/{id}/events.
  function watch() {
    const holder = document.querySelector("[data-watch]");
    if (!holder || !window.EventSource) return;
    if (holder.dataset.start === "ask") {
      const button = document.getElementById("count-nodes");
      if (button) button.addEventListener("click", function () { button.disabled = true; listen(holder); });
      return;
    }
    listen(holder);
  }

  function listen(holder) {
    const source = new EventSource(holder.dataset.watch);
    source.addEventListener("counters", function (event) {
      const counters = JSON.parse(event.data);
      for (const [key, value] of Object.entries(counters)) {
        document.querySelectorAll('[data-counter="' + key + '"]').forEach(function (element) {
          element.textContent = value;
          if (key === "phase") element.className = "phase phase-" + value;
        });
      }
      document.body.dataset.live = "on";
    });
    source.addEventListener("nodes", function (event) {
      const phases = JSON.parse(event.data);
      recolourDrawings(phases);
      document.querySelectorAll("[data-node-phase]").forEach(function (element) {
        const phase = phases[element.dataset.nodePhase];
        if (!phase) return;
        element.textContent = phase;
        element.className = "phase phase-" + phase;
        // A node on screen that now has children (its spec accepted) is fetched again, with its expand button.
        if (PARENT_PHASES.includes(phase)) refetchParent(element.dataset.nodePhase, 5);
      });
    });
    source.addEventListener("done", function () {
      source.close();
      document.body.dataset.live = "done";
      // A page rendered before the end says that outputs or the error are now there.
      const finished = document.getElementById("finished");
      if (finished) finished.hidden = false;
    });
    // A stream the server refused or cut (an error status, the server restarting) is closed for good by the
    // browser: open it again, unless the execution is over.
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED && document.body.dataset.live !== "done") {
        setTimeout(function () { listen(holder); }, 2000);
      }
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  // Fetches a parent's row again until it has its expand button: a row fetched in the moment its spec was accepted
  // may not show it yet, and no later event may come for that node for a long while.
  function refetchParent(nodeId, tries) {
    const row = document.querySelector('li.node[data-node="' + CSS.escape(nodeId) + '"]');
    if (!row || tries <= 0 || row.dataset.refetching || row.querySelector(":scope > .row > button.toggle")) return;
    row.dataset.refetching = "1";
    htmx.ajax("GET", row.dataset.row, {target: row, swap: "outerHTML"}).finally(function () {
      delete row.dataset.refetching;
      setTimeout(function () { refetchParent(nodeId, tries - 1); }, 500);
    });
  }

  // A live drawing's boxes and bars (gantry-diagram's SVG links, each to one node's page) take their nodes' new phases:
  // the class `phase-<phase>` and the phase in the title, which reads "label: phase ...".
  function recolourDrawings(phases) {
    document.querySelectorAll("[data-live-phases] a[href]").forEach(function (link) {
      const id = new URL(link.getAttribute("href"), location.href).searchParams.get("id");
      const phase = id && phases[id];
      if (!phase) return;
      link.setAttribute("class", (link.classList.contains("run") ? "run" : "node") + " phase-" + phase);
      const title = link.querySelector("title");
      if (title) title.textContent = title.textContent.replace(/: [a-z_]+/, ": " + phase);
    });
  }

  // A parent's button shows and hides its children; htmx fetches them on the first click.
  document.addEventListener("click", function (event) {
    const toggle = event.target.closest("button.toggle");
    if (!toggle) return;
    const list = document.getElementById(toggle.getAttribute("aria-controls"));
    if (!list) return;
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    toggle.textContent = open ? "▾" : "▸";
    list.hidden = !open;
  });

  // JSON text areas say at once when they do not parse.
  document.addEventListener("input", function (event) {
    const area = event.target;
    if (!(area instanceof HTMLTextAreaElement) || !area.hasAttribute("data-json")) return;
    if (area.value.trim() === "") { area.setCustomValidity(""); return; }
    try {
      JSON.parse(area.value);
      area.setCustomValidity("");
    } catch (error) {
      area.setCustomValidity("not JSON: " + error.message);
    }
  });

  // Shortcuts: e, t, w, l go to the main pages; / focuses the first field of a filter form.
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    if (event.key === "/") {
      const field = document.querySelector("form.filters input");
      if (field) { event.preventDefault(); field.focus(); }
      return;
    }
    const link = document.querySelector('nav a[data-key="' + event.key + '"]');
    if (link) { event.preventDefault(); link.click(); }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", watch);
  } else {
    watch();
  }
})();
