// The sandbox tests' browser client, driven over the DevTools protocol (tests/browser/cdp.py).
//
// Everything here is what a real page does with livekit-client: join, publish the microphone
// (Chromium's fake capture device, fed the test's WAV file), subscribe to everyone, and play
// each remote track through an <audio> element. What the test checks is read back as plain
// JSON through `window.lk`:
//   - levels: each remote participant's audio metered with WebAudio. Chromium hands decoded
//     remote audio to WebAudio only while the track is attached to a media element (muted or
//     not), so every track is attached and the element muted.
//   - stats: packets per second from the tracks' own WebRTC stats, to see DTX.
//   - logs: the SDK's own log lines (it says there what it expected of the server).
"use strict";

(() => {
  const LK = window.LivekitClient;
  const logs = [];
  const meters = new Map();   // "identity/trackSid" -> meter
  let room = null;
  let audio = null;           // the one AudioContext
  let silence = null;         // the WebAudio source of the silent track

  LK.setLogLevel("info");
  LK.setLogExtension((level, msg, context) => {
    let ctx = "";
    try { ctx = context === undefined ? "" : JSON.stringify(context); } catch (e) { ctx = "?"; }
    logs.push({ t: performance.now(), level: LK.LogLevel[level] || String(level),
                msg: String(msg), ctx: ctx.slice(0, 500) });
  });

  function context() {
    if (audio === null) audio = new AudioContext({ sampleRate: 48000 });
    return audio;
  }

  function meterTrack(participant, publication, track) {
    const key = participant.identity + "/" + publication.trackSid;
    if (meters.has(key)) return;
    const element = track.attach();
    element.muted = true;
    document.body.appendChild(element);
    const ctx = context();
    const source = ctx.createMediaStreamSource(new MediaStream([track.mediaStreamTrack]));
    const tap = ctx.createScriptProcessor(2048, 1, 1);
    const meter = { identity: participant.identity, track, element, source, tap,
                    sum: 0, n: 0, peak: 0 };
    tap.onaudioprocess = (event) => {
      const x = event.inputBuffer.getChannelData(0);
      let sum = 0, peak = meter.peak;
      for (let i = 0; i < x.length; i++) {
        const v = x[i];
        sum += v * v;
        if (Math.abs(v) > peak) peak = Math.abs(v);
      }
      meter.sum += sum;
      meter.n += x.length;
      meter.peak = peak;
    };
    source.connect(tap);
    tap.connect(ctx.destination);  // a ScriptProcessor runs only while connected
    meters.set(key, meter);
  }

  function unmeterTrack(participant, publication) {
    const key = participant.identity + "/" + publication.trackSid;
    const meter = meters.get(key);
    if (meter === undefined) return;
    meter.source.disconnect();
    meter.tap.disconnect();
    meter.track.detach(meter.element);
    meter.element.remove();
    meters.delete(key);
  }

  function dbfs(linear) {
    return linear > 0 ? 20 * Math.log10(linear) : -Infinity;
  }

  async function packetStats(track) {
    const report = await track.getRTCStatsReport();
    const out = {};
    if (!report) return out;
    report.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        out.packetsReceived = s.packetsReceived;
        out.packetsLost = s.packetsLost;
        out.concealedSamples = s.concealedSamples;
        out.fecPacketsReceived = s.fecPacketsReceived;
      } else if (s.type === "outbound-rtp" && s.kind === "audio") {
        out.packetsSent = s.packetsSent;
      } else if (s.type === "codec" && /opus/i.test(s.mimeType || "")) {
        out.fmtp = s.sdpFmtpLine || "";
      }
    });
    return out;
  }

  window.lk = {
    /** Join; the microphone is opened first, so Chromium grants media access (and shows
     *  its real host addresses to ICE rather than mDNS names). */
    async join(url, token, singlePeerConnection) {
      const mic = await LK.createLocalAudioTrack({
        echoCancellation: false, noiseSuppression: false, autoGainControl: false,
      });
      room = new LK.Room({ adaptiveStream: false, dynacast: false, singlePeerConnection });
      room.on(LK.RoomEvent.TrackSubscribed, (track, pub, participant) => {
        if (track.kind === "audio") meterTrack(participant, pub, track);
      });
      room.on(LK.RoomEvent.TrackUnsubscribed, (track, pub, participant) => {
        unmeterTrack(participant, pub);
      });
      const t0 = performance.now();
      await room.connect(url, token);
      const connectMs = performance.now() - t0;
      await context().resume();
      await room.localParticipant.publishTrack(mic, { source: LK.Track.Source.Microphone });
      document.getElementById("state").textContent = "joined";
      return { connectMs, sid: room.localParticipant.sid, audioState: context().state };
    },

    /** A second track of digital silence from WebAudio (its encoder's DTX has nothing to
     *  send). */
    async publishSilence() {
      const ctx = context();
      silence = ctx.createConstantSource();
      silence.offset.value = 0;
      const dest = ctx.createMediaStreamDestination();
      silence.connect(dest);
      silence.start();
      const track = new LK.LocalAudioTrack(dest.stream.getAudioTracks()[0], undefined, false);
      const pub = await room.localParticipant.publishTrack(track, {
        name: "silence", source: LK.Track.Source.Unknown,
      });
      return pub.trackSid;
    },

    /** Only connect and leave, for timing the signalling: no microphone, nothing played. */
    async connectOnly(url, token, singlePeerConnection) {
      const probe = new LK.Room({ adaptiveStream: false, dynacast: false,
                                  singlePeerConnection });
      const t0 = performance.now();
      await probe.connect(url, token, { autoSubscribe: false });
      const ms = performance.now() - t0;
      await probe.disconnect();
      return ms;
    },

    remote() {
      const out = [];
      if (room === null) return out;
      room.remoteParticipants.forEach((p) => {
        const tracks = [];
        p.audioTrackPublications.forEach((pub) => {
          const mst = pub.track ? pub.track.mediaStreamTrack : null;
          tracks.push({ sid: pub.trackSid, name: pub.trackName, subscribed: pub.isSubscribed,
                        muted: pub.isMuted, readyState: mst ? mst.readyState : "none",
                        mediaMuted: mst ? mst.muted : true });
        });
        out.push({ identity: p.identity, tracks });
      });
      return out;
    },

    resetLevels() {
      meters.forEach((m) => { m.sum = 0; m.n = 0; m.peak = 0; });
    },

    /** RMS (plain, not AES17) and peak in dBFS of each remote track since resetLevels. */
    levels() {
      const out = {};
      meters.forEach((m) => {
        out[m.identity] = { rmsDbfs: m.n ? dbfs(Math.sqrt(m.sum / m.n)) : null,
                            peakDbfs: dbfs(m.peak), seconds: m.n / context().sampleRate };
      });
      return out;
    },

    /** The WebRTC counters of every remote audio track (by identity) and local one (by
     *  name). */
    async stats() {
      const remote = {}, local = {};
      for (const m of meters.values()) remote[m.identity] = await packetStats(m.track);
      for (const pub of room.localParticipant.audioTrackPublications.values()) {
        if (pub.track) local[pub.trackName] = await packetStats(pub.track);
      }
      return { t: performance.now(), remote, local };
    },

    logs(since) {
      return logs.filter((l) => l.t >= (since || 0));
    },

    async leave() {
      if (room !== null) await room.disconnect();
      if (silence !== null) silence.stop();
      if (audio !== null) await audio.close();
      room = null;
      audio = null;
      return true;
    },
  };
})();
