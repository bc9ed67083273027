/* Live calls on the supervision page, and listening to one (V7): the supervisor's browser
   offers a receive-and-send WebRTC leg; it hears caller and agent; with "Whisper" on, the
   agent (only) hears the supervisor. The microphone stays muted unless whispering. */
(function () {
  "use strict";
  var T = JSON.parse(document.getElementById("cc-monitor-texts").textContent);
  var C = JSON.parse(document.getElementById("cc-monitor-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var fmt = CCText.fmt;
  var calls = {};  // call_id -> call_state frame
  var listening = null;  // { id, pc, mic, whisper }

  function send(frame) { return window.CCSupervision.send(frame); }

  function render() {
    var ids = Object.keys(calls).sort(function (a, b) { return calls[a].started_at < calls[b].started_at ? -1 : 1; });
    $("live-calls").hidden = !ids.length; $("live-calls-none").hidden = !!ids.length;
    var body = $("live-calls").querySelector("tbody"); body.textContent = "";
    ids.forEach(function (id) {
      var c = calls[id], tr = document.createElement("tr");
      var caller = c.caller.name || c.caller.number || T.unknown_caller;
      var agent = c.agent ? c.agent.name : "–";
      [caller, c.queue.name, agent, T[c.state] || c.state].forEach(function (text) {
        var td = document.createElement("td"); td.textContent = text; tr.appendChild(td);
      });
      var actions = document.createElement("td");
      if (listening && listening.id === id) {
        actions.appendChild(button(listening.whisper ? T.stop_whisper : T.whisper, "whisper-" + id, function () {
          whisper(!listening.whisper);
        }));
        actions.appendChild(button(T.stop, "unlisten-" + id, function () { send({ type: "call_unlisten", call_id: id }); stop(); }));
      } else if (c.state === "talking" || c.state === "on_hold") {
        var b = button(T.listen, "listen-" + id, function () { listen(id); });
        b.setAttribute("aria-label", fmt(T.listen_label, { caller: caller, agent: agent }));
        actions.appendChild(b);
      }
      tr.appendChild(actions); body.appendChild(tr);
    });
  }
  function button(text, key, onClick) {
    var b = document.createElement("button"); b.type = "button"; b.textContent = text; b.dataset.key = key;
    b.addEventListener("click", onClick); return b;
  }

  function listen(id) {
    if (listening) { send({ type: "call_unlisten", call_id: listening.id }); stop(); }
    CCWebRTC.microphone(C.voice_processing)
      .then(function (mic) {
        mic.getAudioTracks().forEach(function (t) { t.enabled = false; });  // silent until a whisper
        var media = CCWebRTC.offer(mic, $("monitor-audio"));
        listening = { id: id, pc: media.pc, mic: mic, whisper: false };
        render();
        return media.sdp.then(function (sdp) { send({ type: "call_listen", call_id: id, sdp: sdp }); });
      })
      .catch(function () { window.alert(T.no_microphone); });
  }
  function whisper(on) {
    if (!listening) { return; }
    listening.whisper = on;
    listening.mic.getAudioTracks().forEach(function (t) { t.enabled = on; });
    send({ type: "call_whisper", call_id: listening.id, on: on });
    render();
  }
  function stop() {
    if (!listening) { return; }
    listening.pc.close();
    listening.mic.getTracks().forEach(function (t) { t.stop(); });
    $("monitor-audio").srcObject = null;
    listening = null;
    render();
  }

  document.addEventListener("cc-call-frame", function (e) {
    var f = e.detail;
    if (f.type === "call_state") {
      if (f.state === "ended") { delete calls[f.call_id]; if (listening && listening.id === f.call_id) { stop(); } }
      else { calls[f.call_id] = f; }
      render();
    } else if (f.type === "call_listen_sdp") {
      if (listening && listening.id === f.call_id) { listening.pc.setRemoteDescription({ type: "answer", sdp: f.sdp }); }
    } else if (f.type === "call_listen_ended") {
      if (listening && listening.id === f.call_id) { stop(); }
    } else if (f.type === "error") {
      if (listening && listening.id === f.call_id) { stop(); }
      window.alert(fmt(T.error, { message: f.message }));
    }
  });
  render();
})();
