"use strict";
// The phone in the browser (the console's): one WebRTC connection to the engine, kept up while
// the page is open and the operator wants it. The SDP offer goes to POST /api/phone; the data
// channel "phone" carries the rings and the answers (see src/browser_phone/page.rs); the audio
// is the microphone one way and the caller the other. The connection comes back by itself
// after a network loss or a sleep, without a reload.
//
// phone.start(ui) with the page's callbacks: ui.state(name, detail), ui.ring(offer),
// ui.talking(call), ui.ended(call, byCaller), ui.cancelled(call).
const phone = (() => {
  let ui = null, wanted = false, pc = null, channel = null, mic = null;
  let current = null, muted = false, retryIn = 1000, retryTimer = null, aliveTimer = null, lossTimer = null;
  let audioCtx = null, ringer = null, callerAnalyser = null, micAnalyser = null;
  const speaker = new Audio();
  speaker.autoplay = true;

  function setState(name, detail) { ui.state(name, detail || ""); }
  function send(msg) { if (channel && channel.readyState === "open") channel.send(JSON.stringify(msg)); }
  function ctx() {
    if (!audioCtx) audioCtx = new AudioContext();
    if (audioCtx.state === "suspended") audioCtx.resume().catch(() => {});
    return audioCtx;
  }
  function analyser(stream) {
    const a = ctx().createAnalyser();
    a.fftSize = 2048;
    ctx().createMediaStreamSource(stream).connect(a);
    return a;
  }
  // The Italian ringing cadence, louder: 425 Hz, 1 s on, 1 s off, until answered or withdrawn.
  function ring(on) {
    if (ringer) { clearInterval(ringer.timer); ringer.osc.stop(); ringer = null; }
    if (!on) return;
    const c = ctx(), osc = c.createOscillator(), gain = c.createGain();
    osc.frequency.value = 425; gain.gain.value = 0;
    osc.connect(gain).connect(c.destination); osc.start();
    let high = false;
    const timer = setInterval(() => { high = !high; gain.gain.value = high ? 0.3 : 0; }, 1000);
    gain.gain.value = 0.3;
    ringer = { osc, timer };
  }

  function closeConnection() {
    clearInterval(aliveTimer); clearTimeout(lossTimer);
    if (channel) { channel.onclose = null; channel.close(); }
    if (pc) { pc.onconnectionstatechange = null; pc.close(); }
    pc = null; channel = null;
  }
  function lost(why) {
    closeConnection();
    ring(false);
    if (current) { ui.ended(current, true); current = null; }
    if (!wanted) return;
    setState("reconnecting", why);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, retryIn);
    retryIn = Math.min(retryIn * 2, 10000);
  }

  async function connect() {
    clearTimeout(retryTimer);
    if (!wanted || pc) return;
    try {
      mic = mic || await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
    } catch (e) {
      // Nothing to retry until the operator allows the microphone.
      wanted = false;
      setState("no_microphone", e.message);
      return;
    }
    micAnalyser = micAnalyser || analyser(mic);
    const conn = new RTCPeerConnection();
    pc = conn;
    for (const t of mic.getAudioTracks()) { t.enabled = !muted; conn.addTrack(t, mic); }
    channel = conn.createDataChannel("phone");
    channel.onopen = () => {
      retryIn = 1000;
      setState("ready");
      aliveTimer = setInterval(() => send({ type: "alive" }), 5000);
    };
    channel.onmessage = (e) => heard(JSON.parse(e.data));
    channel.onclose = () => lost(tr("connessione chiusa", "connection closed"));
    conn.ontrack = (e) => {
      const stream = e.streams[0] || new MediaStream([e.track]);
      speaker.srcObject = stream;
      speaker.play().catch(() => {});
      callerAnalyser = analyser(stream);
    };
    conn.onconnectionstatechange = () => {
      const s = conn.connectionState;
      if (s === "failed" || s === "closed") lost(s);
      else if (s === "disconnected") {
        // Often back within seconds; if not, start again.
        setState("reconnecting", tr("rete interrotta", "network interrupted"));
        clearTimeout(lossTimer);
        lossTimer = setTimeout(() => { if (pc === conn && conn.connectionState !== "connected") lost(tr("rete interrotta", "network interrupted")); }, 4000);
      } else if (s === "connected" && channel && channel.readyState === "open") {
        clearTimeout(lossTimer);
        setState(current ? "talking" : "ready");
      }
    };
    setState("connecting");
    try {
      await conn.setLocalDescription(await conn.createOffer());
      const r = await api("POST", "/api/phone", { sdp: conn.localDescription.sdp });
      if (pc !== conn) return;
      await conn.setRemoteDescription({ type: "answer", sdp: r.sdp });
    } catch (e) {
      if (pc === conn) lost(e.message);
    }
  }

  function heard(msg) {
    switch (msg.type) {
      case "ring":
        current = msg.call;
        send({ type: "ringing", call: msg.call });
        ring(true);
        ui.ring(msg);
        break;
      case "cancelled":
        ring(false);
        if (current === msg.call) current = null;
        ui.cancelled(msg.call);
        break;
      case "talking":
        ring(false);
        setState("talking");
        ui.talking(msg.call);
        break;
      case "ended":
        ring(false);
        if (current === msg.call) current = null;
        setState("ready");
        ui.ended(msg.call, msg.by_caller);
        break;
      case "unanswered":
        // The engine did not hear us ring in time (asleep): say we are here again.
        ring(false);
        current = null;
        send({ type: "alive" });
        ui.cancelled(null);
        break;
    }
  }

  // Closing the page ends the connection at once (the engine passes a ringing call on now,
  // not when the connection times out).
  window.addEventListener("pagehide", () => closeConnection());
  // Back online, or woken up: reconnect at once rather than at the next retry.
  const nudge = () => { if (wanted && !pc) connect(); };
  window.addEventListener("online", nudge);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) nudge(); });

  // The dominant frequency (Hz) and level (dB) of an analyser's input.
  function pitch(a) {
    if (!a) return null;
    const bins = new Float32Array(a.frequencyBinCount);
    a.getFloatFrequencyData(bins);
    let best = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    return { hz: best * ctx().sampleRate / a.fftSize, db: bins[best] };
  }
  function level(a) {
    if (!a) return 0;
    const samples = new Float32Array(a.fftSize);
    a.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    return Math.min(1, Math.sqrt(sum / samples.length) * 4);
  }

  return {
    start(callbacks) { ui = callbacks; wanted = true; retryIn = 1000; connect(); },
    stop() {
      wanted = false;
      closeConnection();
      ring(false);
      current = null;
      if (mic) { for (const t of mic.getTracks()) t.stop(); mic = null; micAnalyser = null; }
      api("DELETE", "/api/phone").catch(() => {});
      setState("off");
    },
    answer() { if (current) { ctx(); send({ type: "answer", call: current }); } },
    hangUp() { if (current) send({ type: "hang_up", call: current }); },
    decline() { if (current) send({ type: "decline", call: current }); },
    mute(on) {
      muted = on;
      if (mic) for (const t of mic.getAudioTracks()) t.enabled = !on;
    },
    get wanted() { return wanted; },
    get call() { return current; },
    micLevel() { return muted ? 0 : level(micAnalyser); },
    callerLevel() { return level(callerAnalyser); },
    callerPitch() { return pitch(callerAnalyser); },
  };
})();
