/* The workspace's softphone (docs/protocol.md, "Calls"): call offers arrive on the workspace
   socket; answering accepts the offer, then this browser offers its WebRTC media for the call
   (complete, with its candidates) and the media process answers. Mute stays in the browser;
   hold, recording, masking, transfer and hang-up are frames the server acts on. */
(function () {
  "use strict";
  var T = JSON.parse(document.getElementById("cc-softphone-texts").textContent);
  var C = JSON.parse(document.getElementById("cc-softphone-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var fmt = CCText.fmt;
  var offers = {};  // call_id -> offer frame
  var call = null;  // { id, pc, mic, frame }

  function send(frame) { return window.CCWorkspace.send(frame); }

  function render() {
    var offerIds = Object.keys(offers);
    $("softphone").hidden = !call && !offerIds.length;
    var shown = call ? call.frame : offers[offerIds[0]];
    if (!shown) { return; }
    var caller = shown.caller.name || shown.caller.number || T.unknown_caller;
    $("softphone-caller").textContent = caller + " · " + fmt(T.from_queue, { queue: shown.queue.name });
    $("softphone-offer").hidden = !!call || !offerIds.length;
    $("softphone-controls").hidden = !call || call.frame.state === "ended";
    if (!call) { $("softphone-state").textContent = T.incoming; $("softphone-recording").hidden = true; return; }
    var f = call.frame;
    $("softphone-state").textContent = {
      queued: T.connecting, connecting: T.connecting, talking: T.talking, on_hold: T.on_hold, ended: T.ended
    }[f.state] || "";
    var held = f.state === "on_hold";
    $("softphone-hold").textContent = held ? T.resume : T.hold;
    $("softphone-hold").setAttribute("aria-pressed", held ? "true" : "false");
    var rec = f.recording;
    $("softphone-record").hidden = !rec.possible;
    $("softphone-record").textContent = !rec.on ? T.record : (rec.paused ? T.resume_recording : T.pause_recording);
    $("softphone-mask").hidden = !rec.on;
    $("softphone-mask").textContent = rec.masked ? T.unmask : T.mask;
    $("softphone-mask").setAttribute("aria-pressed", rec.masked ? "true" : "false");
    $("softphone-recording").hidden = !rec.on;
    $("softphone-recording").textContent = rec.masked ? T.recording_masked : (rec.paused ? T.recording_paused : T.recording);
  }

  function microphone() { return CCWebRTC.microphone(C.voice_processing); }

  function joinMedia() {
    var current = call;
    var ready = current.mic ? Promise.resolve(current.mic) : microphone();
    ready.then(function (mic) {
      current.mic = mic;
      var media = CCWebRTC.offer(mic, $("softphone-audio"));
      current.pc = media.pc;
      return media.sdp.then(function (sdp) { send({ type: "call_sdp", call_id: current.id, sdp: sdp }); });
    }).catch(function () { $("softphone-state").textContent = T.no_microphone; });
  }

  function hangUpMedia() {
    $("softphone-monitored").hidden = true;
    if (!call) { return; }
    if (call.pc) { call.pc.close(); }
    if (call.mic) { call.mic.getTracks().forEach(function (t) { t.stop(); }); }
    $("softphone-audio").srcObject = null;
    $("softphone-mute").setAttribute("aria-pressed", "false"); $("softphone-mute").textContent = T.mute;
  }

  function finish(text) {
    var ended = call;
    hangUpMedia();
    if (ended) { ended.frame.state = "ended"; }
    render();
    $("softphone-state").textContent = text;
    setTimeout(function () { if (call === ended) { call = null; render(); } }, 4000);
  }

  function onFrame(f) {
    switch (f.type) {
      case "call_offer": offers[f.call_id] = f; render(); break;
      case "call_offer_withdrawn": delete offers[f.call_id]; render(); break;
      case "call_assigned":
        delete offers[f.call_id];
        if (call && call.id === f.call_id && call.pc && call.pc.connectionState !== "failed" && call.pc.connectionState !== "closed") {
          call.frame = f;  // a reconnected socket's snapshot: the media still runs
        } else {
          if (call && call.id !== f.call_id) { hangUpMedia(); }
          call = { id: f.call_id, pc: null, mic: call && call.id === f.call_id ? call.mic : null, frame: f };
          joinMedia();
        }
        render(); break;
      case "call_sdp":
        if (call && call.id === f.call_id && call.pc) { call.pc.setRemoteDescription({ type: "answer", sdp: f.sdp }); }
        break;
      case "call_state":
        if (call && call.id === f.call_id) {
          call.frame = f;
          if (f.state === "ended") { finish(T.ended); } else { render(); }
        }
        break;
      case "call_left":
        if (call && call.id === f.call_id) { finish(T.transferred); }
        break;
      case "call_monitored":
        if (call && call.id === f.call_id) {
          $("softphone-monitored").hidden = !f.listening && !f.whisper;
          $("softphone-monitored").textContent = fmt(f.whisper ? T.whispering : T.monitored, { name: f.by });
        }
        break;
      case "error": $("softphone-state").textContent = fmt(T.error, { message: f.message }); break;
    }
  }

  document.addEventListener("cc-call-frame", function (e) { onFrame(e.detail); });
  $("softphone-answer").addEventListener("click", function () {
    var id = Object.keys(offers)[0];
    if (!id) { return; }
    // The microphone before the accept: an agent who cannot speak should not take the call.
    microphone().then(function (mic) {
      call = { id: id, pc: null, mic: mic, frame: offers[id], accepted: true };
      send({ type: "call_accept", call_id: id });
    }).catch(function () { $("softphone-state").textContent = T.no_microphone; });
  });
  $("softphone-decline").addEventListener("click", function () {
    var id = Object.keys(offers)[0];
    if (id) { send({ type: "call_decline", call_id: id }); delete offers[id]; render(); }
  });
  $("softphone-mute").addEventListener("click", function () {
    if (!call || !call.mic) { return; }
    var muted = $("softphone-mute").getAttribute("aria-pressed") !== "true";
    call.mic.getAudioTracks().forEach(function (t) { t.enabled = !muted; });
    $("softphone-mute").setAttribute("aria-pressed", muted ? "true" : "false");
    $("softphone-mute").textContent = muted ? T.unmute : T.mute;
  });
  $("softphone-hold").addEventListener("click", function () {
    if (call) { send({ type: "call_hold", call_id: call.id, on: call.frame.state !== "on_hold" }); }
  });
  $("softphone-record").addEventListener("click", function () {
    if (!call) { return; }
    var rec = call.frame.recording;
    send({ type: "call_recording", call_id: call.id, action: !rec.on ? "start" : (rec.paused ? "resume" : "pause") });
  });
  $("softphone-mask").addEventListener("click", function () {
    if (call) { send({ type: "call_recording", call_id: call.id, action: call.frame.recording.masked ? "unmask" : "mask" }); }
  });
  $("softphone-transfer").addEventListener("click", function () {
    var queueId = parseInt($("softphone-transfer-queue").value, 10);
    if (call && queueId) { send({ type: "call_transfer", call_id: call.id, queue_id: queueId }); }
  });
  if ($("softphone-transfer-to-agent")) {
    $("softphone-transfer-to-agent").addEventListener("click", function () {
      var agentId = parseInt($("softphone-transfer-agent").value, 10);
      if (call && agentId) { send({ type: "call_transfer", call_id: call.id, agent_id: agentId }); }
    });
  }
  $("softphone-hang-up").addEventListener("click", function () {
    if (call) { send({ type: "call_hangup", call_id: call.id }); }
  });
})();
