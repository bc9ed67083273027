/* "Call us" in the widget: a WebRTC call from the customer's browser (docs/protocol.md,
   "Calls"). REST starts the call, /ws/call/ carries the offer and answer, digits and the
   call's state; the audio goes straight to the media process. The offer is sent complete,
   with its ICE candidates: the media process does not trickle. */
(function () {
  "use strict";
  var T = JSON.parse(document.getElementById("cc-texts").textContent);
  var C = JSON.parse(document.getElementById("cc-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var fmt = CCText.fmt;
  var call = null;  // { ws, pc, mic, ended }

  function showCallPane() {
    ["intro", "closed", "conversation"].forEach(function (id) { $(id).hidden = true; });
    $("call").hidden = false;
    $("call-back").hidden = true; $("call-hang-up").hidden = false; $("call-mute").hidden = false;
    $("keypad").hidden = false;
  }
  function say(text) { $("call-state").textContent = text; }

  function startMedia() {
    var media = CCWebRTC.offer(call.mic, $("call-audio"));
    var pc = call.pc = media.pc;
    pc.onconnectionstatechange = function () {
      if (pc.connectionState === "failed" && call && !call.ended) { finish(T.call_lost); }
    };
    media.sdp.then(function (sdp) { send({ type: "sdp", sdp: sdp }); });
  }

  function send(frame) {
    if (call && call.ws && call.ws.readyState === 1) { call.ws.send(JSON.stringify(frame)); }
  }

  function onFrame(f) {
    if (f.type === "state") {
      $("call-recorded").hidden = !f.recorded;
      if (f.state === "connecting") { say(T.call_connecting); if (!call.pc) { startMedia(); } }
      else if (f.state === "ivr") { say(T.call_menu); }
      else if (f.state === "queued") { say(T.call_queued); }
      else if (f.state === "talking") { say(fmt(T.call_talking, { name: (f.agent && f.agent.name) || T.agent })); }
      else if (f.state === "on_hold") { say(T.call_on_hold); }
      else if (f.state === "ended") { finish(f.end_reason === "connection_lost" ? T.call_lost : T.call_ended); }
    } else if (f.type === "sdp") {
      call.pc.setRemoteDescription({ type: "answer", sdp: f.sdp });
    } else if (f.type === "error") {
      say(fmt(T.failed, { reason: f.message }));
      if (f.code === "media_failed" || f.code === "ended") { finish(T.call_lost); }
    }
  }

  function finish(text) {
    if (!call || call.ended) { return; }
    call.ended = true;
    say(text);
    if (call.pc) { call.pc.close(); }
    if (call.mic) { call.mic.getTracks().forEach(function (t) { t.stop(); }); }
    if (call.ws) { var ws = call.ws; call.ws = null; ws.close(1000); }
    $("call-audio").srcObject = null;
    $("keypad").hidden = true; $("call-hang-up").hidden = true; $("call-mute").hidden = true;
    $("call-back").hidden = false; $("call-back").focus();
  }

  function connect(token) {
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/call/");
    call.ws = ws;
    ws.onopen = function () { call.retry = 0; ws.send(JSON.stringify({ type: "auth", token: token })); };
    ws.onmessage = function (e) { var f; try { f = JSON.parse(e.data); } catch (err) { return; } onFrame(f); };
    ws.onclose = function (e) {
      if (!call || call.ws !== ws || call.ended) { return; }
      // The call goes on without its socket (the audio has its own path): reconnect, and the
      // server sends the call's state. A revoked token (4401) means the call has ended.
      if (e.code === 4401 || call.retry >= 8) { finish(T.call_lost); return; }
      call.retry = (call.retry || 0) + 1;
      setTimeout(function () { if (call && !call.ended) { connect(token); } }, Math.min(4000, 500 * call.retry));
    };
  }

  function visitorId() { try { return localStorage.getItem("cc-visitor"); } catch (e) { return null; } }

  function startCall() {
    call = { ws: null, pc: null, mic: null, ended: false };
    showCallPane();
    say(T.call_connecting);
    // The microphone first: without it there is no call to queue.
    CCWebRTC.microphone(C.voice_processing)
      .then(function (mic) {
        call.mic = mic;
        return fetch("/api/v1/widget/" + encodeURIComponent(C.key) + "/calls", {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ locale: C.locale, visitor_id: visitorId() })
        }).then(function (r) { return r.json().then(function (data) { return { status: r.status, data: data }; }); });
      }, function () { throw { noMicrophone: true }; })
      .then(function (res) {
        if (res.status !== 201) { finish(res.data.message || T.error); return; }
        connect(res.data.customer_token);
      })
      .catch(function (error) { finish(error && error.noMicrophone ? T.call_no_microphone : T.error); });
  }

  document.addEventListener("cc-status", function (e) { $("call-us").hidden = !e.detail.calls; });
  $("call-us").addEventListener("click", startCall);
  $("call-hang-up").addEventListener("click", function () { send({ type: "hangup" }); finish(T.call_ended); });
  $("call-mute").addEventListener("click", function () {
    if (!call || !call.mic) { return; }
    var muted = $("call-mute").getAttribute("aria-pressed") !== "true";
    call.mic.getAudioTracks().forEach(function (t) { t.enabled = !muted; });
    $("call-mute").setAttribute("aria-pressed", muted ? "true" : "false");
    $("call-mute").textContent = muted ? T.call_unmute : T.call_mute;
  });
  Array.prototype.forEach.call(document.querySelectorAll("#keypad [data-digit]"), function (button) {
    button.addEventListener("click", function () { send({ type: "digit", digit: button.dataset.digit }); });
  });
  $("call-back").addEventListener("click", function () { location.reload(); });
  window.addEventListener("pagehide", function () { if (call && !call.ended) { send({ type: "hangup" }); } });
})();
