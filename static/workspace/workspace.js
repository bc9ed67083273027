/* The agent workspace: one WebSocket (/ws/agent/, session-authenticated) carries offers, the
   waiting lists, and every chat the agent is in; REST fills the customer panel and peeks. */
(function () {
  "use strict";
  var T = JSON.parse(document.getElementById("cc-texts").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var lang = document.documentElement.lang || "en";
  var S = { ws: null, retry: 0, unsent: {}, convs: {}, current: null, waiting: {}, totals: {}, offers: {}, peek: null, typingSent: 0, typingTimer: null };

  var fmt = CCText.fmt, uuid4 = CCText.uuid4, appendLinkified = CCText.appendLinkified;
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) { e.className = cls; } if (text !== undefined) { e.textContent = text; } return e; }
  function timeOf(iso) { return CCText.timeOf(iso, lang); }
  function customerName(s) { return (s.customer && (s.customer.name || s.customer.email || s.customer.phone)) || T.anonymous; }
  function cookie(name) { var m = document.cookie.match("(?:^|; )" + name + "=([^;]*)"); return m ? decodeURIComponent(m[1]) : ""; }
  function api(path, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = Object.assign({ "Accept": "application/json", "X-CSRFToken": cookie("csrftoken") }, options.headers || {});
    if (options.body && typeof options.body !== "string") { options.body = JSON.stringify(options.body); options.headers["Content-Type"] = "application/json"; }
    return fetch(path, options).then(function (r) { return r.json().then(function (d) { if (!r.ok) { throw d; } return d; }); });
  }
  /* --- the socket --- */
  function connect() {
    $("connection").textContent = T.connecting;
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/agent/");
    S.ws = ws;
    ws.onopen = function () {
      S.retry = 0; $("connection").textContent = T.connected;
      // What was written while the socket was down or not yet acknowledged: the same client_id, stored once.
      Object.keys(S.unsent).forEach(function (id) { ws.send(JSON.stringify(S.unsent[id])); });
      if (S.wantedPresence) { ws.send(JSON.stringify(S.wantedPresence)); S.wantedPresence = null; }
    };
    ws.onmessage = function (e) { var f; try { f = JSON.parse(e.data); } catch (err) { return; } onFrame(f); };
    ws.onclose = function (e) {
      if (S.ws !== ws) { return; }
      S.ws = null; $("connection").textContent = T.disconnected;
      if (e.code === 4401 || e.code === 4403) { location.href = "/accounts/login/?next=/workspace/"; return; }
      S.retry = Math.min(S.retry + 1, 4);  // 0.5, 1, 2, 4 s, then every 4 s
      setTimeout(connect, 500 * Math.pow(2, S.retry - 1) + Math.random() * 300);
    };
  }
  function send(frame) { if (S.ws && S.ws.readyState === 1) { S.ws.send(JSON.stringify(frame)); return true; } return false; }
  // A frame with a client_id is kept until its echo or its error comes back, and sent again on reconnect.
  function sendOnce(frame) { S.unsent[frame.client_id] = frame; send(frame); }

  function onFrame(f) {
    switch (f.type) {
      case "presence": onPresence(f); break;
      case "queue_update": S.waiting[f.queue.id] = f.waiting; S.totals[f.queue.id] = f.total; renderWaiting(); break;
      case "offer": addOffer(f); break;
      case "offer_withdrawn": removeOffer(f.conversation_id); break;
      case "assigned": removeOffer(f.conversation_id); openConversation(f); break;
      case "left": onLeft(f); break;
      case "invitation": onInvitation(f); break;
      case "alarm": onAlarm(f); break;
      case "message": case "event": onItem(f); break;
      case "typing": onTyping(f); break;
      case "customer_presence": onCustomerPresence(f); break;
      case "membership":  // a supervisor (or another tab) logged this agent on or off
        f.queue_ids.forEach(function (id) { var box = document.querySelector('[data-queue="' + id + '"]'); if (box) { box.checked = f.logged_on; } });
        break;
      case "offline_message": loadOfflineMessages(); break;
      case "error": if (f.call_id) { toSoftphone(f); } else { showError(f); } break;
      default: if (f.type.indexOf("call_") === 0) { toSoftphone(f); }
    }
  }
  // The softphone (static/voice/softphone.js) takes the call frames and sends its own.
  function toSoftphone(f) { document.dispatchEvent(new CustomEvent("cc-call-frame", { detail: f })); }
  window.CCWorkspace = { send: send };
  function onPresence(f) {
    var notice = T.presence_reasons[f.reason];
    $("presence").value = f.state;
    $("presence-reason").value = notice ? "" : (f.reason || "");
    $("presence-notice").textContent = notice || "";
    $("presence-notice").hidden = !notice;
  }
  function showError(f) {
    if (f.client_id && f.code === "rate_limited" && S.unsent[f.client_id]) {  // sent too fast: again in a second
      setTimeout(function () { if (S.unsent[f.client_id]) { send(S.unsent[f.client_id]); } }, 1000 + Math.random() * 500);
      return;
    }
    if (f.client_id) { delete S.unsent[f.client_id]; }
    var pending = f.client_id && document.querySelector('[data-client-id="' + f.client_id + '"]');
    if (pending) { pending.classList.add("failed"); pending.querySelector(".state").textContent = fmt(T.error, { message: f.message }); return; }
    $("connection").textContent = fmt(T.error, { message: f.message });
  }

  /* --- offers and the waiting list --- */
  function addOffer(f) {
    removeOffer(f.conversation_id);
    var li = el("li", "offer");
    li.appendChild(el("strong", "", fmt(T.offer, { queue: f.queue.name })));
    li.appendChild(el("div", "", customerName(f)));
    var answers = el("div", "answers", Object.keys(f.prechat || {}).map(function (k) { return k + ": " + f.prechat[k]; }).join(" · "));
    li.appendChild(answers);
    var countdown = el("div", "countdown"); li.appendChild(countdown);
    var accept = el("button", "primary", T.accept); accept.type = "button";
    accept.addEventListener("click", function () { send({ type: "accept", conversation_id: f.conversation_id }); });
    var decline = el("button", "", T.decline); decline.type = "button";
    decline.addEventListener("click", function () { send({ type: "decline", conversation_id: f.conversation_id }); removeOffer(f.conversation_id); });
    li.appendChild(accept); li.appendChild(decline);
    $("offers").appendChild(li);
    var tick = function () {
      var left = Math.max(0, Math.round((new Date(f.expires_at) - new Date()) / 1000));
      countdown.textContent = fmt(T.expires, { seconds: left });
      if (!left) { removeOffer(f.conversation_id); }
    };
    tick();
    S.offers[f.conversation_id] = { el: li, timer: setInterval(tick, 1000) };
    accept.focus();
  }
  function removeOffer(id) { var o = S.offers[id]; if (o) { clearInterval(o.timer); o.el.remove(); delete S.offers[id]; } }

  function renderWaiting() {
    var all = [];
    Object.keys(S.waiting).forEach(function (q) { all = all.concat(S.waiting[q]); });
    all.sort(function (a, b) { return a.started_at < b.started_at ? -1 : 1; });
    var list = $("waiting"); list.textContent = "";
    var total = Object.keys(S.totals).reduce(function (n, q) { return n + (S.totals[q] || 0); }, 0);
    $("waiting-count").textContent = total ? "(" + total + ")" : "";
    if (!all.length) { list.appendChild(el("li", "muted", T.no_waiting)); return; }
    all.forEach(function (w) {
      var li = el("li", "waiting-item");
      li.appendChild(el("strong", "", customerName(w)));
      li.appendChild(el("span", "meta", w.queue.name + " · " + fmt(T.since, { time: timeOf(w.started_at) })));
      var answers = Object.keys(w.prechat || {}).map(function (k) { return k + ": " + w.prechat[k]; }).join(" · ");
      if (answers) { li.appendChild(el("span", "answers", answers)); }
      var peek = el("button", "", T.peek); peek.type = "button";
      peek.addEventListener("click", function () { showPeek(w); });
      var pick = el("button", "primary", T.pick); pick.type = "button";
      pick.addEventListener("click", function () { send({ type: "pick", conversation_id: w.conversation_id }); });
      li.appendChild(peek); li.appendChild(pick);
      list.appendChild(li);
    });
  }
  function showPeek(w) { showReadOnly(w.conversation_id, customerName(w) + " · " + w.queue.name); }
  /* A chat the agent only reads: a waiting one (A2), or one found in history (A4, A11). */
  function showReadOnly(id, title) {
    S.current = null; S.peek = id; highlight();
    $("empty").hidden = true; $("conversation").hidden = false;
    $("conv-title").textContent = title;
    ["composer", "end", "handover-open", "leave", "handover", "wrap-up"].forEach(function (part) { $(part).hidden = true; });
    $("log").textContent = "";
    api("/api/v1/conversations/" + id + "/messages?after_seq=0").then(function (data) {
      if (S.peek !== id) { return; }
      data.results.forEach(function (f) { $("log").appendChild(renderItem(f)); });
    });
    loadCustomer(id);
  }

  /* --- conversations --- */
  function openConversation(summary) {
    var id = summary.conversation_id, c = S.convs[id];
    if (!c) {
      c = S.convs[id] = { summary: summary, items: [], seen: {}, lastSeq: 0, unread: 0, ended: false, li: null, typing: "" };
      c.li = el("li", "chat-item"); c.li.tabIndex = 0; c.li.setAttribute("role", "button");
      c.li.addEventListener("click", function () { select(id); });
      c.li.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(id); } });
      $("active").appendChild(c.li);
    } else { c.summary = summary; }
    c.role = summary.role || "agent";
    renderListItem(c);
    if (!S.current) { select(id); }
  }
  function renderListItem(c) {
    var s = c.summary; c.li.textContent = "";
    c.li.appendChild(el("strong", "", customerName(s)));
    c.li.appendChild(el("span", "meta", s.queue.name));
    if (c.unread) { var badge = el("span", "badge", String(c.unread)); badge.setAttribute("aria-label", fmt(T.unread, { n: c.unread })); c.li.appendChild(badge); }
    if (c.typing) { c.li.appendChild(el("span", "meta typing-mark", "…")); }
  }
  function onItem(f) {
    var c = S.convs[f.conversation_id];
    if (!c) { return; }
    var key = f.internal ? "n" + f.id : "s" + f.seq;
    if (c.seen[key]) { return; }
    c.seen[key] = true;
    if (!f.internal) { c.lastSeq = Math.max(c.lastSeq, f.seq); }
    c.items.push(f);
    if (f.type === "message" && f.author.role === "agent" && f.client_id) {
      delete S.unsent[f.client_id];
      var pending = document.querySelector('[data-client-id="' + f.client_id + '"]');
      if (pending) { pending.remove(); }
    }
    if (f.type === "message" && f.author.role === "customer") { c.typing = ""; }
    if (f.type === "event" && f.event === "ended") { endConversation(c); }
    if (S.current === f.conversation_id) {
      $("log").appendChild(renderItem(f)); $("log").scrollTop = $("log").scrollHeight;
      if (document.hasFocus() && !f.internal) { send({ type: "read", conversation_id: f.conversation_id, seq: c.lastSeq }); }
      if (f.type === "message" && f.author.role === "customer") { $("typing").textContent = ""; }
    } else if (f.type === "message" && f.author.role === "customer") { c.unread += 1; renderListItem(c); }
  }
  function renderItem(f) {
    var li;
    if (f.type === "message") {
      li = el("li", "line " + f.author.role + (f.internal ? " internal" : ""));
      var who = f.internal ? T.internal + " · " + f.author.name : (f.author.role === "customer" ? T.customer : f.author.name);
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
  function endConversation(c) {
    c.ended = true;
    c.li.remove(); c.li.classList.add("ended");
    $("recent").insertBefore(c.li, $("recent").firstChild);
    if (S.current === c.summary.conversation_id) { $("composer").hidden = true; $("end").hidden = true; $("typing").textContent = ""; loadWrapUp(c.summary.conversation_id); }
  }
  function select(id) {
    var c = S.convs[id]; if (!c) { return; }
    S.current = id; S.peek = null; highlight();
    $("empty").hidden = true; $("conversation").hidden = false;
    $("conv-title").textContent = customerName(c.summary) + " · " + c.summary.queue.name;
    $("composer").hidden = c.ended; $("end").hidden = c.ended || c.role === "consultant";
    $("handover-open").hidden = c.ended || c.role === "consultant"; $("leave").hidden = c.ended;
    $("handover").hidden = true; $("link-form").hidden = true; hideCanned();
    $("text").lang = c.summary.locale || lang;  // the browser checks spelling in the chat's language (A10)
    $("as-note").checked = c.role === "consultant"; $("as-note").disabled = c.role === "consultant"; noteMode();
    $("link-open").hidden = c.role === "consultant";
    loadWrapUp(id);
    var log = $("log"); log.textContent = "";
    c.items.slice().sort(function (a, b) { return a.seq - b.seq || (a.internal ? 1 : 0) - (b.internal ? 1 : 0); })
      .forEach(function (f) { log.appendChild(renderItem(f)); });
    log.scrollTop = log.scrollHeight;
    $("typing").textContent = c.typing;
    $("customer-state").textContent = c.customerOffline && !c.ended ? T.customer_offline : "";
    c.unread = 0; renderListItem(c);
    if (c.lastSeq) { send({ type: "read", conversation_id: id, seq: c.lastSeq }); }
    loadCustomer(id);
    if (!c.ended) { $("text").focus(); }
  }
  function highlight() {
    Object.keys(S.convs).forEach(function (id) {
      S.convs[id].li.classList.toggle("selected", id === S.current);
      S.convs[id].li.setAttribute("aria-current", id === S.current ? "true" : "false");
    });
  }
  function onTyping(f) {
    var c = S.convs[f.conversation_id]; if (!c) { return; }
    var text = f.active ? (f.role === "customer" ? T.customer_typing : fmt(T.typing, { name: f.name })) : "";
    c.typing = text; renderListItem(c);
    if (S.current === f.conversation_id) { $("typing").textContent = text; }
  }

  function onCustomerPresence(f) {
    var c = S.convs[f.conversation_id]; if (!c || c.ended) { return; }
    c.customerOffline = !f.online;
    c.li.classList.toggle("customer-offline", !f.online);
    if (S.current === f.conversation_id) { $("customer-state").textContent = f.online ? "" : T.customer_offline; }
  }

  /* --- the customer panel (A4) --- */
  function facts(dl, obj) {
    dl.textContent = "";
    Object.keys(obj || {}).forEach(function (k) { if (obj[k]) { dl.appendChild(el("dt", "", k)); var dd = el("dd"); appendLinkified(dd, String(obj[k])); dl.appendChild(dd); } });
  }
  function loadCustomer(id) {
    api("/api/v1/conversations/" + id).then(function (d) {
      if (S.current !== id && S.peek !== id) { return; }
      $("customer").hidden = false;
      facts($("customer-facts"), { name: d.customer.name, email: d.customer.email, phone: d.customer.phone, locale: d.locale });
      facts($("customer-prechat"), d.prechat);
      facts($("customer-context"), d.context);
      var list = $("customer-history"); list.textContent = "";
      if (!d.history.length) { list.appendChild(el("li", "muted", T.no_history)); }
      d.history.forEach(function (h) {
        var li = el("li", "history-item", new Date(h.started_at).toLocaleString(lang) + " · " + h.queue.name + (h.agent ? " · " + h.agent : ""));
        li.tabIndex = 0; li.setAttribute("role", "button");
        li.addEventListener("click", function () { showHistory(h); });
        list.appendChild(li);
      });
    }).catch(function () { $("customer").hidden = true; });
  }
  function loadOfflineMessages() {
    api("/api/v1/offline-messages").then(function (d) {
      var list = $("offline-messages"); list.textContent = "";
      d.results.filter(function (m) { return !m.handled; }).forEach(function (m) {
        var li = el("li", "offline-item");
        li.appendChild(el("strong", "", (m.name || m.email || m.phone) + " · " + m.queue));
        li.appendChild(el("span", "meta", [m.email, m.phone].filter(Boolean).join(" · ")));
        var text = el("span", "text"); appendLinkified(text, m.text); li.appendChild(text);
        var done = el("button", "", T.mark_handled); done.type = "button";
        done.addEventListener("click", function () { api("/api/v1/offline-messages/" + m.id + "/handle", { method: "POST" }).then(loadOfflineMessages); });
        li.appendChild(done); list.appendChild(li);
      });
    });
  }
  function loadRecent() {
    api("/api/v1/conversations?state=ended&mine=1").then(function (d) {
      d.results.slice(0, 10).forEach(function (s) {
        if (S.convs[s.conversation_id]) { return; }
        var c = S.convs[s.conversation_id] = { summary: s, items: [], seen: {}, lastSeq: 0, unread: 0, ended: true, typing: "" };
        c.li = el("li", "chat-item ended"); c.li.tabIndex = 0; c.li.setAttribute("role", "button");
        c.li.addEventListener("click", function () {
          api("/api/v1/conversations/" + s.conversation_id + "/messages?after_seq=0").then(function (m) {
            c.items = []; c.seen = {}; m.results.forEach(function (f) { c.seen[f.internal ? "n" + f.id : "s" + f.seq] = true; c.items.push(f); });
            select(s.conversation_id);
          });
        });
        renderListItem(c); $("recent").appendChild(c.li);
      });
    });
  }

  /* --- composing --- */
  $("composer").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("text").value; if (!text.trim() || !S.current) { return; }
    var note = $("as-note").checked, id = uuid4();
    var li = el("li", "line agent sending" + (note ? " internal" : "")); li.dataset.clientId = id;
    var body = el("span", "text"); appendLinkified(body, text); li.appendChild(body); li.appendChild(el("span", "state", "…"));
    $("log").appendChild(li); $("log").scrollTop = $("log").scrollHeight;
    sendOnce({ type: note ? "note" : "message", conversation_id: S.current, client_id: id, text: text });
    send({ type: "typing", conversation_id: S.current, active: false }); S.typingSent = 0;
    $("text").value = ""; $("as-note").checked = false; noteMode();
  });
  $("text").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("composer").requestSubmit(); }
  });
  $("text").addEventListener("input", function () {
    if (!S.current || $("as-note").checked) { return; }
    var now = Date.now(), id = S.current;
    if (now - S.typingSent > 3000) { send({ type: "typing", conversation_id: id, active: true }); S.typingSent = now; }
    clearTimeout(S.typingTimer);
    S.typingTimer = setTimeout(function () { send({ type: "typing", conversation_id: id, active: false }); S.typingSent = 0; }, 4000);
  });
  function noteMode() { var on = $("as-note").checked; $("composer").classList.toggle("note-mode", on); $("text-label").textContent = on ? T.note_label : T.message_label; }
  $("as-note").addEventListener("change", noteMode);
  /* --- canned responses (A5): "/" and a few letters, or the button --- */
  S.canned = {};
  function cannedFor(id) {
    if (!S.canned[id]) {
      S.canned[id] = api("/api/v1/canned-responses?conversation=" + id).then(function (d) { return d.results; })
        .catch(function () { delete S.canned[id]; return []; });
    }
    return S.canned[id];
  }
  function hideCanned() { $("canned").hidden = true; $("canned").textContent = ""; S.cannedPick = -1; }
  function showCanned(prefix) {
    var id = S.current; if (!id) { return; }
    cannedFor(id).then(function (all) {
      if (S.current !== id) { return; }
      var p = prefix.toLowerCase();
      var found = all.filter(function (r) { return !p || r.shortcut.toLowerCase().indexOf(p) === 0 || r.title.toLowerCase().indexOf(p) >= 0; });
      var list = $("canned"); list.textContent = ""; S.cannedPick = found.length ? 0 : -1;
      if (!found.length) { list.appendChild(el("li", "muted", T.no_canned)); }
      found.slice(0, 12).forEach(function (r, i) {
        var li = el("li", "canned-item"); li.setAttribute("role", "option"); li.id = "canned-" + i;
        li.appendChild(el("strong", "", "/" + r.shortcut)); li.appendChild(el("span", "", " " + r.title));
        li.appendChild(el("span", "preview", r.text));
        li.addEventListener("mousedown", function (e) { e.preventDefault(); insertCanned(r); });
        li.dataset.index = i; list.appendChild(li);
      });
      S.cannedFound = found.slice(0, 12); list.hidden = false; markCanned();
    });
  }
  function markCanned() {
    Array.prototype.forEach.call($("canned").querySelectorAll(".canned-item"), function (li, i) {
      li.setAttribute("aria-selected", i === S.cannedPick ? "true" : "false");
    });
    $("text").setAttribute("aria-activedescendant", S.cannedPick >= 0 ? "canned-" + S.cannedPick : "");
  }
  function insertCanned(r) {
    $("text").value = r.text; hideCanned(); $("text").focus();
    $("text").setSelectionRange(r.text.length, r.text.length);
  }
  $("text").addEventListener("input", function () {
    var m = /^\/([\w-]*)$/.exec($("text").value);
    if (m) { showCanned(m[1]); } else if (!$("canned").hidden) { hideCanned(); }
  });
  $("text").addEventListener("keydown", function (e) {
    if ($("canned").hidden || !S.cannedFound) { return; }
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault(); e.stopImmediatePropagation();
      var n = S.cannedFound.length; if (!n) { return; }
      S.cannedPick = (S.cannedPick + (e.key === "ArrowDown" ? 1 : n - 1)) % n; markCanned();
    } else if ((e.key === "Enter" || e.key === "Tab") && S.cannedPick >= 0) {
      e.preventDefault(); e.stopImmediatePropagation(); insertCanned(S.cannedFound[S.cannedPick]);
    } else if (e.key === "Escape") { hideCanned(); }
  }, true);
  $("canned-open").addEventListener("click", function () { $("text").value = "/"; $("text").focus(); showCanned(""); });

  /* --- links under an alias (W8) --- */
  $("link-open").addEventListener("click", function () {
    var form = $("link-form"); form.hidden = !form.hidden;
    $("link-open").setAttribute("aria-expanded", String(!form.hidden));
    if (!form.hidden) { $("link-url").focus(); }
  });
  $("link-send").addEventListener("click", function () {
    var url = $("link-url").value.trim(), text = $("link-text").value.trim();
    if (!url || !S.current) { return; }
    sendOnce({ type: "link", conversation_id: S.current, client_id: uuid4(), url: url, text: text || url });
    $("link-url").value = ""; $("link-text").value = ""; $("link-form").hidden = true;
    $("link-open").setAttribute("aria-expanded", "false");
  });

  /* --- transfer, conference, consultation (A6, A7) --- */
  $("handover-open").addEventListener("click", function () {
    var panel = $("handover"); panel.hidden = !panel.hidden;
    $("handover-open").setAttribute("aria-expanded", String(!panel.hidden));
    if (panel.hidden) { return; }
    api("/api/v1/transfer-targets").then(function (d) {
      var who = $("colleague"); who.textContent = "";
      if (!d.colleagues.length) { var none = el("option", "", T.no_colleagues); none.value = ""; who.appendChild(none); }
      d.colleagues.forEach(function (a) {
        var o = el("option", "", fmt(T.colleague_option, { name: a.name, presence: T[a.presence] || a.presence, free: a.free_chat_slots }));
        o.value = a.user_id; who.appendChild(o);
      });
      var target = $("transfer-target"); target.textContent = "";
      d.queues.forEach(function (q) { var o = el("option", "", q.name); o.value = "queue:" + q.id; target.appendChild(o); });
      d.categories.forEach(function (c) { var o = el("option", "", fmt(T.category_option, { label: c.label, queue: c.queue })); o.value = "choice:" + c.id; target.appendChild(o); });
    });
  });
  $("invite-send").addEventListener("click", function () {
    var userId = parseInt($("colleague").value, 10); if (!userId || !S.current) { return; }
    var kind = document.querySelector('input[name="invite-kind"]:checked').value;
    send({ type: "invite", conversation_id: S.current, user_id: userId, kind: kind, note: $("invite-note").value });
    $("invite-state").textContent = T.invitation_sent;
  });
  $("transfer-send").addEventListener("click", function () {
    var v = $("transfer-target").value; if (!v || !S.current) { return; }
    var parts = v.split(":"), frame = { type: "transfer", conversation_id: S.current, note: $("invite-note").value, stay: $("transfer-stay").checked };
    frame[parts[0] === "queue" ? "queue_id" : "choice_id"] = parseInt(parts[1], 10);
    send(frame); $("handover").hidden = true;
  });
  $("leave").addEventListener("click", function () { if (S.current) { send({ type: "leave", conversation_id: S.current }); } });
  function onLeft(f) {
    var c = S.convs[f.conversation_id]; if (!c) { return; }
    endConversation(c);
    if (S.current === f.conversation_id) { select(f.conversation_id); }
  }
  function onInvitation(f) {
    var key = "inv-" + f.id;
    if (f.receiver_id !== T.me) {  // the sender hears the answer
      if (f.state !== "pending") { $("invite-state").textContent = fmt(T["invitation_" + f.state] || f.state, { name: f.to }); }
      return;
    }
    removeOffer(key);
    if (f.state !== "pending") { return; }
    var li = el("li", "offer invitation");
    li.appendChild(el("strong", "", fmt(T["invited_" + f.kind], { name: f.from })));
    li.appendChild(el("div", "meta", customerName(f.conversation) + " · " + f.conversation.queue.name));
    if (f.note) { li.appendChild(el("div", "answers", f.note)); }
    var accept = el("button", "primary", T.accept); accept.type = "button";
    accept.addEventListener("click", function () { send({ type: "invitation_accept", id: f.id }); removeOffer(key); });
    var decline = el("button", "", T.decline); decline.type = "button";
    decline.addEventListener("click", function () { send({ type: "invitation_decline", id: f.id }); removeOffer(key); });
    li.appendChild(accept); li.appendChild(decline); $("offers").appendChild(li);
    var timer = setInterval(function () { if (new Date(f.expires_at) < new Date()) { removeOffer(key); } }, 1000);
    S.offers[key] = { el: li, timer: timer }; accept.focus();
  }

  /* --- wrap-up: disposition and note after the chat --- */
  function loadWrapUp(id) {
    var form = $("wrap-up"); form.hidden = true; $("wrap-up-state").textContent = "";
    var c = S.convs[id]; if (!c || !c.ended || c.role === "consultant") { return; }
    api("/api/v1/conversations/" + id + "/wrap-up").then(function (d) {
      if (S.current !== id || !d.open) { return; }
      var select = $("disposition"); select.textContent = "";
      var none = el("option", "", T.no_disposition); none.value = ""; select.appendChild(none);
      d.codes.forEach(function (code) { var o = el("option", "", code.name); o.value = code.id; select.appendChild(o); });
      select.value = d.disposition_id || ""; $("wrap-up-note").value = d.note || ""; form.hidden = false;
    }).catch(function () { form.hidden = true; });
  }
  $("wrap-up").addEventListener("submit", function (e) {
    e.preventDefault(); if (!S.current) { return; }
    var value = $("disposition").value;
    api("/api/v1/conversations/" + S.current + "/wrap-up", { method: "POST", body: { disposition_id: value ? parseInt(value, 10) : null, note: $("wrap-up-note").value } })
      .then(function () { $("wrap-up-state").textContent = T.wrap_up_saved; })
      .catch(function (d) { $("wrap-up-state").textContent = (d && d.message) || ""; });
  });

  /* --- history search (A11): snippets are text, never HTML --- */
  $("search").addEventListener("submit", function (e) {
    e.preventDefault();
    var params = new URLSearchParams();
    if ($("search-q").value.trim()) { params.set("q", $("search-q").value.trim()); }
    if ($("search-queue").value) { params.set("queue", $("search-queue").value); }
    if ($("search-from").value) { params.set("from", $("search-from").value); }
    if ($("search-to").value) { params.set("to", $("search-to").value); }
    var list = $("search-results"); list.textContent = "";
    api("/api/v1/conversations/search?" + params.toString()).then(function (d) {
      if (!d.results.length) { list.appendChild(el("li", "muted", T.no_results)); }
      d.results.forEach(function (r) {
        var li = el("li", "chat-item ended"); li.tabIndex = 0; li.setAttribute("role", "button");
        li.appendChild(el("strong", "", (r.customer || T.anonymous) + " · " + r.queue.name));
        li.appendChild(el("span", "meta", new Date(r.started_at).toLocaleString(lang) + (r.agent ? " · " + r.agent : "")));
        if (r.snippet) { li.appendChild(el("span", "answers", r.snippet)); }
        li.addEventListener("click", function () { showHistory(r); });
        list.appendChild(li);
      });
    }).catch(function (d) { list.appendChild(el("li", "muted", (d && d.message) || T.no_results)); });
  });
  function showHistory(r) { showReadOnly(r.id, (r.customer || T.anonymous) + " · " + r.queue.name); }

  /* --- queue alarms, for supervisors (X1) --- */
  function onAlarm(f) {
    var key = "alarm-" + f.queue_id + "-" + f.kind, old = document.getElementById(key);
    if (old) { old.remove(); }
    if (f.state !== "raised") { return; }
    var li = el("li", "alarm", fmt(T["alarm_" + f.kind] || f.kind, { queue: f.queue, value: f.value, threshold: f.threshold }));
    li.id = key; $("alarms").appendChild(li);
  }

  $("end").addEventListener("click", function () {
    if (S.current && window.confirm(T.end_confirm)) { send({ type: "end", conversation_id: S.current }); }
  });
  function sendPresence() {
    var frame = { type: "presence", state: $("presence").value, reason: $("presence-reason").value };
    S.wantedPresence = send(frame) ? null : frame;  // chosen while (re)connecting: sent once the socket opens
  }
  $("presence").addEventListener("change", sendPresence);
  $("presence-reason").addEventListener("change", sendPresence);

  function logOn(queueIds, loggedOn) {
    api("/api/v1/agents/me/queues", { method: "POST", body: { queue_ids: queueIds, logged_on: loggedOn } })
      .catch(function (d) { showError({ message: (d && d.message) || "" }); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-queue]"), function (box) {
    box.addEventListener("change", function () { logOn([parseInt(box.dataset.queue, 10)], box.checked); });
  });
  function logOnAll(value) {
    Array.prototype.forEach.call(document.querySelectorAll("[data-queue]"), function (box) { box.checked = value; });
    logOn(null, value);
  }
  if ($("log-on-all")) {
    $("log-on-all").addEventListener("click", function () { logOnAll(true); });
    $("log-off-all").addEventListener("click", function () { logOnAll(false); });
  }

  connect(); loadOfflineMessages(); loadRecent();
})();
