/* The supervisor's live view: one WebSocket (/ws/supervisor/, session-authenticated) brings
   `overview` frames (every queue and agent), alarms, and the chat being listened to. Times in
   state and the longest waits tick here from the server's timestamps between overviews. */
(function () {
  "use strict";
  var T = JSON.parse(document.getElementById("cc-texts").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var lang = document.documentElement.lang || "en";
  var fmt = CCText.fmt;
  var S = { ws: null, retry: 0, overview: null, skew: 0, watch: null, peek: null };

  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) { e.className = cls; } if (text !== undefined) { e.textContent = text; } return e; }
  function button(text, label, key, onClick) {
    var b = el("button", "", text); b.type = "button";
    if (label) { b.setAttribute("aria-label", label); }
    b.dataset.key = key; b.addEventListener("click", onClick); return b;
  }
  function customerName(s) { return (s.customer && (s.customer.name || s.customer.email || s.customer.phone)) || T.anonymous; }
  function timeOf(iso) { return CCText.timeOf(iso, lang); }
  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return (h ? h + ":" + pad(m) : String(m)) + ":" + pad(s);
  }
  function showNotice(message) { $("notice").textContent = message || ""; $("notice").hidden = !message; }

  /* --- the socket --- */
  function connect() {
    $("connection").textContent = T.connecting;
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/supervisor/");
    S.ws = ws;
    ws.onopen = function () {
      S.retry = 0; $("connection").textContent = T.connected;
      // The server stops listening when a socket closes: listen again on the new one.
      if (S.watch) { send({ type: "watch", conversation_id: S.watch.id }); }
    };
    ws.onmessage = function (e) { var f; try { f = JSON.parse(e.data); } catch (err) { return; } onFrame(f); };
    ws.onclose = function (e) {
      if (S.ws !== ws) { return; }
      S.ws = null; $("connection").textContent = T.disconnected;
      if (e.code === 4401) { location.href = "/accounts/login/?next=/supervision/"; return; }
      if (e.code === 4403) { location.reload(); return; }
      S.retry = Math.min(S.retry + 1, 6);
      setTimeout(connect, 500 * Math.pow(2, S.retry - 1) + Math.random() * 300);
    };
  }
  function send(frame) { if (S.ws && S.ws.readyState === 1) { S.ws.send(JSON.stringify(frame)); return true; } return false; }

  function onFrame(f) {
    switch (f.type) {
      case "overview": S.overview = f; S.skew = Date.parse(f.now) - Date.now(); render(); break;
      case "alarm": onAlarm(f); break;
      case "watching": openWatch(f); break;
      case "unwatched": if (S.watch && S.watch.id === f.conversation_id) { closePanel(); } break;
      case "message": case "event": onItem(f); break;
      case "typing": onTyping(f); break;
      case "customer_presence":
        if (S.watch && S.watch.id === f.conversation_id && !S.watch.ended) { $("watch-state").textContent = f.online ? "" : T.customer_offline; }
        break;
      case "error": if (f.call_id) { toCalls(f); } else { showNotice(fmt(T.error, { message: f.message })); } break;
      default: if (f.type.indexOf("call_") === 0) { toCalls(f); }
    }
  }
  // Live calls and listening to them (static/voice/monitor.js) take the call frames.
  function toCalls(f) { document.dispatchEvent(new CustomEvent("cc-call-frame", { detail: f })); }
  window.CCSupervision = { send: send };

  /* --- the tables --- */
  function render() {
    var active = document.activeElement, key = active && active.dataset ? active.dataset.key : null;
    renderQueues(); renderAgents(); tick();
    if (key) {  // a re-rendered table keeps the keyboard where it was
      var again = document.querySelector('[data-key="' + key + '"]');
      if (again) { again.focus(); }
    }
  }
  function cell(tr, text, cls) { var td = el("td", cls === undefined ? "num" : cls, text === undefined ? "" : String(text)); tr.appendChild(td); return td; }
  function renderQueues() {
    var body = $("queues").tBodies[0]; body.textContent = "";
    var queues = S.overview.queues;
    if (!queues.length) { var none = el("tr"); var td = cell(none, T.no_queues, "muted"); td.colSpan = 11; body.appendChild(none); return; }
    queues.forEach(function (q) {
      var tr = el("tr"), th = el("th", "", q.name); th.scope = "row"; tr.appendChild(th);
      cell(tr, q.waiting); cell(tr, q.offered);
      var wait = cell(tr, q.oldest_since ? "" : "–");
      if (q.oldest_since) { wait.dataset.since = q.oldest_since; }
      cell(tr, q.ongoing); cell(tr, q.agents_logged_on); cell(tr, q.agents_ready); cell(tr, q.agents_busy);
      var sl = cell(tr, q.service_level_today === null ? "–" : Math.round(q.service_level_today * 100) + " %");
      sl.title = fmt(T.sl_detail, { within: q.answered_within_target_today, counted: q.offered_today, target: q.service_level_target_seconds });
      cell(tr, q.answered_today); cell(tr, q.abandoned_today);
      body.appendChild(tr);
    });
  }
  function isMissed(a) { return a.presence === "not_ready" && a.reason === "missed offers"; }
  function renderAgents() {
    var body = $("agents").tBodies[0]; body.textContent = "";
    var queueNames = {}, filter = $("agent-filter").value.trim().toLowerCase(), hideOffline = $("hide-offline").checked;
    S.overview.queues.forEach(function (q) { queueNames[q.id] = q.name; });
    var missed = S.overview.agents.filter(isMissed);
    $("missed-summary").hidden = !missed.length;
    $("missed-summary").textContent = missed.length ? fmt(T.missed_summary, { names: missed.map(function (a) { return a.name; }).join(", ") }) : "";
    var shown = S.overview.agents.filter(function (a) {
      if (hideOffline && a.presence === "offline") { return false; }
      return !filter || a.name.toLowerCase().indexOf(filter) >= 0 || a.username.toLowerCase().indexOf(filter) >= 0;
    });
    if (!shown.length) { var none = el("tr"); var td = cell(none, T.no_agents, "muted"); td.colSpan = 8; body.appendChild(none); return; }
    shown.forEach(function (a) { body.appendChild(agentRow(a, queueNames)); });
  }
  function agentRow(a, queueNames) {
    var tr = el("tr", isMissed(a) ? "missed" : ""), th = el("th", "", a.name); th.scope = "row"; tr.appendChild(th);
    var state = cell(tr, undefined, "");
    state.appendChild(el("span", "state " + a.presence, T[a.presence] || a.presence));
    if (isMissed(a)) {
      state.appendChild(el("span", "missed-badge", T.reasons["missed offers"]));
      if (a.missed_offers) { state.appendChild(el("span", "reason", fmt(T.missed_count, { n: a.missed_offers }))); }
    } else if (a.reason) {
      state.appendChild(el("span", "reason", T.reasons[a.reason] || a.reason));
    }
    cell(tr).dataset.since = a.since;
    cell(tr, fmt(T.held, { held: a.chats, capacity: a.chat_capacity }) + (a.offers ? " " + fmt(T.offers, { n: a.offers }) : ""));
    cell(tr, fmt(T.held, { held: a.calls, capacity: a.call_capacity }));
    var toggles = el("div", "queue-toggles");
    a.queues.forEach(function (m) {
      var label = el("label"), box = el("input"); box.type = "checkbox"; box.checked = m.logged_on;
      box.setAttribute("aria-label", fmt(T.queue_toggle, { name: a.name, queue: queueNames[m.id] || m.id }));
      box.dataset.key = "queue-" + a.id + "-" + m.id;
      box.addEventListener("change", function () { send({ type: "log_on", agent_id: a.id, queue_ids: [m.id], logged_on: box.checked }); });
      label.appendChild(box); label.appendChild(document.createTextNode(" " + (queueNames[m.id] || m.id)));
      toggles.appendChild(label);
    });
    cell(tr, undefined, "").appendChild(toggles);
    var chats = el("ul", "chats");
    if (!a.conversations.length) { chats.appendChild(el("li", "muted", T.no_chats)); }
    a.conversations.forEach(function (c) {
      var li = el("li"), who = c.customer || T.anonymous, names = { customer: who, name: a.name };
      li.appendChild(el("span", "", who + " · " + (queueNames[c.queue_id] || "") + (c.role === "consultant" ? " (" + T.listening + ")" : "")));
      li.appendChild(button(T.peek, fmt(T.peek_label, names), "peek-" + c.conversation_id + "-" + a.id, function () { peek(c, who, queueNames[c.queue_id]); }));
      li.appendChild(button(T.listen, fmt(T.listen_label, names), "listen-" + c.conversation_id + "-" + a.id, function () { watch(c.conversation_id); }));
      chats.appendChild(li);
    });
    cell(tr, undefined, "").appendChild(chats);
    var actions = el("div", "actions");
    var ready = button(T.set_ready, fmt(T.set_ready_label, { name: a.name }), "ready-" + a.id, function () { send({ type: "presence", agent_id: a.id, state: "ready" }); });
    ready.disabled = a.presence === "ready";
    var notReady = button(T.set_not_ready, fmt(T.set_not_ready_label, { name: a.name }), "not-ready-" + a.id, function () { send({ type: "presence", agent_id: a.id, state: "not_ready" }); });
    notReady.disabled = a.presence === "not_ready";
    var off = button(T.log_off_all, fmt(T.log_off_all_label, { name: a.name }), "log-off-" + a.id, function () { send({ type: "log_on", agent_id: a.id, queue_ids: null, logged_on: false }); });
    off.disabled = !a.queues.some(function (m) { return m.logged_on; });
    actions.appendChild(ready); actions.appendChild(notReady); actions.appendChild(off);
    cell(tr, undefined, "").appendChild(actions);
    return tr;
  }
  function tick() {
    var now = Date.now() + S.skew;
    Array.prototype.forEach.call(document.querySelectorAll("[data-since]"), function (e) {
      var seconds = (now - Date.parse(e.dataset.since)) / 1000;
      e.textContent = duration(seconds);
    });
  }
  setInterval(tick, 1000);
  $("agent-filter").addEventListener("input", function () { if (S.overview) { renderAgents(); tick(); } });
  $("hide-offline").addEventListener("change", function () { if (S.overview) { renderAgents(); tick(); } });

  /* --- alarms (X1) --- */
  function onAlarm(f) {
    var key = "alarm-" + f.queue_id + "-" + f.kind, old = document.getElementById(key);
    if (old) { old.remove(); }
    if (f.state === "raised") {
      var li = el("li", "alarm", fmt(T["alarm_" + f.kind] || f.kind, { queue: f.queue, value: f.value, threshold: f.threshold }));
      li.id = key; $("alarms").appendChild(li);
    }
    renderNoAlarms();
  }
  function renderNoAlarms() {
    var none = $("no-alarms"), any = $("alarms").querySelector(".alarm");
    if (any && none) { none.remove(); }
    if (!any && !none) { none = el("li", "muted", T.no_alarms); none.id = "no-alarms"; $("alarms").appendChild(none); }
  }

  /* --- listening to a chat, and peeking into one --- */
  function watch(id) {
    if (S.watch && S.watch.id !== id) { send({ type: "unwatch", conversation_id: S.watch.id }); }
    showNotice("");
    send({ type: "watch", conversation_id: id });
  }
  function showPanel(title, listening) {
    $("supervision").classList.add("watching"); $("watch").hidden = false;
    $("watch-title").textContent = title; $("watch-log").textContent = "";
    $("watch-state").textContent = ""; $("watch-typing").textContent = "";
    $("whisper").hidden = !listening; $("unwatch").hidden = !listening; $("close-peek").hidden = listening;
  }
  function openWatch(f) {
    S.peek = null; S.watch = { id: f.conversation_id, seen: {}, ended: false };
    showPanel(fmt(T.listening_to, { customer: customerName(f), queue: f.queue.name }), true);
    $("whisper-text").lang = f.locale || lang;
    $("whisper-text").focus();
  }
  function peek(c, customer, queue) {
    if (S.watch) { send({ type: "unwatch", conversation_id: S.watch.id }); S.watch = null; }
    S.peek = c.conversation_id;
    showPanel(fmt(T.reading, { customer: customer, queue: queue || "" }), false);
    $("close-peek").focus();
    fetch("/api/v1/conversations/" + c.conversation_id + "/messages?after_seq=0", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (d) {
        if (S.peek !== c.conversation_id) { return; }
        (d.results || []).forEach(function (f) { $("watch-log").appendChild(renderItem(f)); });
        $("watch-log").scrollTop = $("watch-log").scrollHeight;
      });
  }
  function closePanel() {
    S.watch = null; S.peek = null;
    $("watch").hidden = true; $("supervision").classList.remove("watching");
  }
  function onItem(f) {
    var w = S.watch; if (!w || f.conversation_id !== w.id) { return; }
    var key = f.internal ? "n" + f.id : "s" + f.seq;
    if (w.seen[key]) { return; }
    w.seen[key] = true;
    $("watch-log").appendChild(renderItem(f)); $("watch-log").scrollTop = $("watch-log").scrollHeight;
    if (f.type === "message" && f.author.role === "customer") { $("watch-typing").textContent = ""; }
    if (f.type === "event" && f.event === "ended") {
      w.ended = true; $("whisper").hidden = true; $("unwatch").hidden = true; $("close-peek").hidden = false;
      $("watch-state").textContent = T.chat_ended; $("watch-typing").textContent = "";
    }
  }
  function renderItem(f) {
    var li;
    if (f.type === "message") {
      li = el("li", "line " + f.author.role + (f.internal ? " internal" : ""));
      var who = f.internal ? T.internal + (f.author.name ? " · " + f.author.name : "") : (f.author.role === "customer" ? T.customer : f.author.name);
      li.appendChild(el("span", "who", who));
      var body = el("span", "text"); CCText.appendBody(body, f); li.appendChild(body);
      var t = el("time", "", timeOf(f.sent_at)); t.dateTime = f.sent_at; li.appendChild(t);
    } else {
      var d = f.data || {};
      var text = { queued: fmt(T.queued, { queue: d.queue || "" }), agent_joined: fmt(T.joined, { name: d.name }),
                   agent_left: fmt(T.left, { name: d.name }), transferred: T.transferred, ended: T.ended }[f.event] || f.event;
      li = el("li", "line system", text);
    }
    return li;
  }
  function onTyping(f) {
    if (!S.watch || S.watch.id !== f.conversation_id) { return; }
    $("watch-typing").textContent = f.active ? (f.role === "customer" ? T.customer_typing : fmt(T.typing, { name: f.name })) : "";
  }
  $("unwatch").addEventListener("click", function () { if (S.watch) { send({ type: "unwatch", conversation_id: S.watch.id }); } });
  $("close-peek").addEventListener("click", closePanel);
  $("whisper").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("whisper-text").value;
    if (!text.trim() || !S.watch) { return; }
    if (send({ type: "whisper", conversation_id: S.watch.id, client_id: CCText.uuid4(), text: text })) { $("whisper-text").value = ""; }
  });
  $("whisper-text").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("whisper").requestSubmit(); }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !$("watch").hidden && S.peek) { closePanel(); }
  });

  renderNoAlarms();
  connect();
})();
