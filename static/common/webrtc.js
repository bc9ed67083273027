/* What the widget's call, the softphone and the supervisor's listening share: the
   microphone, and a complete offer (the media process does not trickle ICE candidates). */
var CCWebRTC = (function () {
  "use strict";
  function microphone(processing) {
    // Echo cancellation, noise suppression and gain control, unless the installation turned them off.
    return navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: processing, noiseSuppression: processing, autoGainControl: processing }, video: false
    });
  }
  function gathered(pc) {
    // The whole offer at once: wait for ICE gathering (at most 3 s, then send what there is).
    return new Promise(function (resolve) {
      if (pc.iceGatheringState === "complete") { resolve(); return; }
      var timer = setTimeout(resolve, 3000);
      pc.addEventListener("icegatheringstatechange", function () {
        if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
      });
    });
  }
  // A connection sending `mic` and playing what it hears on `audio`; resolves to the complete offer.
  function offer(mic, audio) {
    var pc = new RTCPeerConnection({ iceServers: [] });
    mic.getTracks().forEach(function (track) { pc.addTrack(track, mic); });
    pc.ontrack = function (e) { audio.srcObject = e.streams[0] || new MediaStream([e.track]); };
    var ready = pc.createOffer()
      .then(function (description) { return pc.setLocalDescription(description); })
      .then(function () { return gathered(pc); })
      .then(function () { return pc.localDescription.sdp; });
    return { pc: pc, sdp: ready };
  }
  return { microphone: microphone, offer: offer };
})();
