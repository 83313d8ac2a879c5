"""Issue 13, seekable streaming: an encrypted audio/video file plays in the page and seeks.
The worker answers the media player's HTTP Range requests (RFC 9110 14) from the segments
that hold the range, byte-exact; a range past the end is 416."""

import io
import math
import os
import struct
import wave

from playwright.sync_api import expect

from support.app_ui import menu_item, signed_in

MiB = 1 << 20
RATE, SECONDS = 44100, 60  # 16-bit stereo: 176 400 bytes a second, ~10 MiB in all


def real_wav() -> bytes:
    """A real PCM WAV file: a tone that changes pitch each second (noise on top, so no two
    segments are alike)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        noise = os.urandom(RATE * 4)
        for second in range(SECONDS):
            pitch = 220 + 10 * second
            frames = bytearray()
            for n in range(RATE):
                v = int(8000 * math.sin(2 * math.pi * pitch * n / RATE)) + noise[n] - 128
                frames += struct.pack("<hh", v, v)
            w.writeframes(bytes(frames))
    return out.getvalue()


def test_an_encrypted_recording_plays_and_seeks_from_the_segments_it_needs(browser, base_url, tmp_path):
    context, page = signed_in(browser, base_url, "listener")
    data = real_wav()
    source = tmp_path / "interview.wav"
    source.write_bytes(data)
    page.get_by_test_id("file-input").set_input_files(str(source))
    row = page.get_by_test_id("envelope-row").first
    expect(row).to_have_attribute("data-status", "uploaded", timeout=60_000)

    ranges = []
    page.on("request", lambda r: ranges.append(r.headers.get("range")) if "/meshkit/open/" in r.url else None)
    menu_item(row, "play").click()
    player = page.get_by_test_id("player")
    page.wait_for_function("() => { const p = document.querySelector('[data-testid=player]'); "
                           "return p && p.readyState >= 1 && Math.abs(p.duration - 60) < 0.5; }", timeout=30_000)
    assert player.evaluate("p => p.tagName") == "AUDIO"
    # the start's own buffering done (its request events can arrive late on a loaded machine)
    # before the seek's requests are the only ones counted
    player.evaluate("p => p.pause()")
    for _ in range(30):
        before = len(ranges)
        page.wait_for_timeout(1000)
        if len(ranges) == before:
            break
    ranges.clear()
    player.evaluate("p => new Promise((done) => { p.addEventListener('seeked', done, {once: true}); p.currentTime = 50; })")
    seek_offset = 44 + 50 * RATE * 4
    starts = [int(r.split("=")[1].split("-")[0]) for r in ranges if r and r.startswith("bytes=")]
    assert starts and max(starts) >= seek_offset - MiB, ranges  # the player asked for the middle...
    assert min(starts) > 4 * MiB, ranges                        # ...not for the file before it

    # the same link answers a range byte-exact, and says when a range cannot be met
    src = player.get_attribute("src")
    part = page.evaluate("""async (src) => { const r = await fetch(src, {headers: {Range: 'bytes=8000000-8000999'}});
        return {status: r.status, range: r.headers.get('content-range'), type: r.headers.get('content-type'),
                disposition: r.headers.get('content-disposition'), body: [...new Uint8Array(await r.arrayBuffer())]}; }""", src)
    assert part["status"] == 206 and part["range"] == f"bytes 8000000-8000999/{len(data)}"
    assert bytes(part["body"]) == data[8000000:8001000]
    assert part["type"] == "audio/wav" and part["disposition"].startswith("inline")
    tail = page.evaluate("async (src) => { const r = await fetch(src, {headers: {Range: 'bytes=-100'}}); "
                         "return [r.status, [...new Uint8Array(await r.arrayBuffer())]]; }", src)
    assert tail[0] == 206 and bytes(tail[1]) == data[-100:]
    past = page.evaluate("async (src) => { const r = await fetch(src, {headers: {Range: 'bytes=99999999-'}}); "
                         "return [r.status, r.headers.get('content-range')]; }", src)
    assert past == [416, f"bytes */{len(data)}"]
    # a <video> element plays and seeks the same link (this machine has no video encoder to
    # make a film with: the recording is the real media file)
    seeked = page.evaluate("""(src) => new Promise((done, fail) => { const v = document.createElement('video');
        v.muted = true; v.onerror = () => fail(String(v.error && v.error.message));
        v.onloadedmetadata = () => { v.onseeked = () => done([v.duration, v.currentTime]); v.currentTime = 30; };
        v.src = src; document.body.append(v); })""", src)
    assert abs(seeked[0] - 60) < 0.5 and abs(seeked[1] - 30) < 0.5
    context.close()
