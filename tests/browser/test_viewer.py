"""The viewer page (`GET /`) in headless chromium against a real uvicorn, behind a /prod stage path:
a small GeoTIFF sent directly, a large one through POST uploads -> the browser's presigned POST to S3
(moto, bucket CORS) -> the S3 trigger -> polling results/<id>, and the API's errors shown as they are."""

import io
import json
import time

import numpy as np
import pytest

from tests.browser.conftest import SMALL_UPLOAD_LIMIT
from tests.rasters import geotiff_bytes, reflectance_stack

# The trigger renders a few-hundred-KB scene in a second or two; moto and the polling back-off add a few.
S3_FLOW_TIMEOUT_MS = 90_000


def small_scene(path):
    """A 12-band 320 x 240 GeoTIFF (EPSG:32633, Austria), its upper-left 80 x 60 block nodata (0)."""
    data = reflectance_stack(12, height=240, width=320)
    data[:, :60, :80] = 0
    path.write_bytes(geotiff_bytes(data, nodata=0, compress="deflate", tiled=True, blockxsize=256, blockysize=256))
    return path


def large_scene(path):
    """A 4-band 300 x 400 uncompressed GeoTIFF (~960 kB): over the pipeline's 100 kB direct-upload limit."""
    path.write_bytes(geotiff_bytes(reflectance_stack(4, height=300, width=400)))
    assert path.stat().st_size > SMALL_UPLOAD_LIMIT
    return path


def png_named_tif(path, size=(64, 48)):
    """A PNG renamed .tif: the API must say what it is."""
    from PIL import Image

    buffer = io.BytesIO()
    pixels = np.random.default_rng(7).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def record_status(page) -> None:
    """Keep every step the status line shows in window.statusLog."""
    page.page.evaluate("""() => { window.statusLog = [];
        new MutationObserver(() => { const step = document.getElementById("status-step").textContent;
                                     if (window.statusLog.at(-1) !== step) window.statusLog.push(step); })
          .observe(document.getElementById("status-step"), {childList: true, characterData: true, subtree: true}); }""")


def thumbnail_size(page) -> tuple[int, int]:
    """The decoded size of the thumbnail <img>."""
    return tuple(page.page.eval_on_selector("#thumb", "img => [img.naturalWidth, img.naturalHeight]"))


def test_small_geotiff_goes_directly_and_shows_thumbnail_attributes_and_footprint(page, local_api, tmp_path):
    requests = []
    page.page.on("request", lambda request: requests.append((request.method, request.url)))
    page.open(local_api.url)
    page.page.fill("#size", "300")
    page.page.select_option("#format", "png")
    page.choose(small_scene(tmp_path / "S2_T33UVP_small.tif"))
    assert page.wait_for_state("done", "error") == "done", page.text("#error")

    assert thumbnail_size(page) == (300, 225)
    # Nodata is transparent: the image's upper-left corner (nodata in the scene) has alpha 0.
    alpha = page.page.eval_on_selector(
        "#thumb",
        """img => {
        const canvas = document.createElement("canvas");
        canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
        const context = canvas.getContext("2d"); context.drawImage(img, 0, 0);
        return [context.getImageData(5, 5, 1, 1).data[3], context.getImageData(250, 200, 1, 1).data[3]]; }""",
    )
    assert alpha == [0, 255]
    assert page.text("#thumb-bands") == "bands 4,3,2 (B04 B03 B02)"  # X-Thumbnail-Bands
    assert page.text("#thumb-radiometry") == "radiometry default"  # X-Thumbnail-Radiometry

    assert page.attribute_row("width") == "320 × 240 px"
    assert page.attribute_row("crs") == "EPSG:32633"
    assert page.attribute_row("resolution") == "10 × 10 m"
    assert page.attribute_row("nodata") == "0"
    assert page.attribute_row("compression") == "DEFLATE"
    assert "B8A" in page.attribute_row("bands") and page.attribute_row("bands").startswith("12")
    assert page.attribute_row("bbox_wgs84").startswith("W 13.7")
    assert page.page.locator("#footprint rect.fp").count() == 1
    assert "48." in page.text("#coords") and "N" in page.text("#coords")
    page.screenshot("1-small-direct")

    # Every call went to the stage path with the page's relative URLs.
    api_calls = [(method, url) for method, url in requests if not url.startswith("blob:")]
    assert {url for _, url in api_calls} >= {local_api.url + "thumbnail", local_api.url + "attributes"}
    assert all(url.startswith(local_api.url) for _, url in api_calls), api_calls

    # Other options re-render the same file: NDVI, 128 px, JPEG.
    page.page.fill("#size", "128")
    page.page.select_option("#format", "jpeg")
    page.wait_for_state("done")
    page.page.select_option("#preset", "ndvi")
    page.page.wait_for_function("document.querySelector('#thumb-bands')?.textContent.startsWith('bands 8,4')")
    page.wait_for_state("done")
    assert thumbnail_size(page) == (128, 96)
    page.screenshot("1b-small-ndvi")

    page.page.click("#view-scene")
    assert page.page.get_attribute("#view-scene", "aria-pressed") == "true"
    page.screenshot("1c-small-scene-map")


def test_large_geotiff_goes_through_s3_the_trigger_and_results(page, s3_pipeline, tmp_path):
    api = s3_pipeline.api
    s3_posts = []
    page.page.on("request", lambda request: f":{s3_pipeline.s3_port}/" in request.url and s3_posts.append(request))
    page.open(api.url)
    record_status(page)
    page.choose(large_scene(tmp_path / "S2_large_scene.tif"))
    page.page.wait_for_selector("#status.show")
    page.screenshot("2a-large-s3-progress")
    started = time.monotonic()
    state = page.wait_for_state("done", "error", timeout_ms=S3_FLOW_TIMEOUT_MS)
    elapsed = time.monotonic() - started
    trigger_log = s3_pipeline.trigger_log.read_text()
    assert state == "done", f"{page.text('#error')}\ntrigger:\n{trigger_log[-2000:]}"

    # The upload's progress, then the polling, were shown while they lasted.
    shown = page.page.evaluate("window.statusLog")
    assert "Asking the API for an upload slot" in shown and "Uploading to S3" in shown, shown
    assert {"Waiting for the S3 trigger", "The S3 trigger is rendering the scene"} & set(shown), shown
    assert page.page.is_hidden("#status")

    # The browser sent the file to S3 itself: a cross-origin presigned POST to the input bucket.
    assert [(r.method, r.url) for r in s3_posts][0] == ("POST", f"http://127.0.0.1:{s3_pipeline.s3_port}/local-input")
    uploaded = [o["Key"] for o in s3_pipeline.s3.list_objects_v2(Bucket="local-input").get("Contents", [])]
    assert len(uploaded) == 1 and uploaded[0].startswith("uploads/"), uploaded
    assert "written" in trigger_log or "status" in trigger_log

    # The PNG the trigger stored, shown from its presigned URL, and the attributes the trigger recorded.
    assert page.page.get_attribute("#thumb", "src").startswith(f"http://127.0.0.1:{s3_pipeline.s3_port}/")
    assert thumbnail_size(page) == (512, 384)
    assert page.attribute_row("width") == "400 × 300 px"
    assert page.attribute_row("source.key") == uploaded[0]
    assert "stored by the S3 trigger" in page.text("#thumb-source")
    page.screenshot("2-large-s3-done")

    # Another render of the uploaded scene: POST thumbnail with key= (no second upload).
    page.page.fill("#size", "200")
    page.page.press("#size", "Enter")
    page.page.wait_for_function("document.querySelector('#thumb-source').textContent.includes('key=uploads/')")
    page.wait_for_state("done")
    assert thumbnail_size(page) == (200, 150)
    page.screenshot("2b-large-key-render")
    print(f"S3 flow (upload, trigger, polling, PNG): {elapsed:.1f} s")


def test_upload_from_an_origin_the_bucket_cors_does_not_allow_is_explained(page, s3_pipeline, tmp_path):
    """The page opened as http://localhost:PORT: the input bucket's CORS names only 127.0.0.1:PORT, so
    S3 (moto) refuses the browser's preflight and the page says what to fix."""
    page.open(s3_pipeline.api.url.replace("127.0.0.1", "localhost"))
    page.choose(large_scene(tmp_path / "S2_large_scene.tif"))
    assert page.wait_for_state("done", "error") == "error"
    assert "upload_blocked" in page.text("#error")
    assert "could not send the file to the input bucket" in page.text("#error-message")
    assert f"localhost:{s3_pipeline.api.port}" in page.text("#error-detail")
    page.screenshot("2c-cors-refused")


def test_api_error_message_and_code_are_shown(page, local_api, tmp_path):
    page.open(local_api.url.rstrip("/"))  # /prod without its trailing slash: calls still go under /prod/
    page.choose(png_named_tif(tmp_path / "not-a-geotiff.tif"))
    assert page.wait_for_state("done", "error") == "error"
    message = page.text("#error-message")
    assert "Only GeoTIFF / COG, JPEG 2000 and Sentinel-2 SAFE product zip files are accepted" in message
    assert "It looks like PNG" in message
    assert page.text("#error-message code") == "unsupported_format"
    assert "HTTP 415" in page.text("#error-detail")
    assert page.page.is_hidden("#thumb")
    page.screenshot("3-error")

    # Invalid options: the API's 422 message, with the file's attributes still shown.
    page.choose(small_scene(tmp_path / "scene.tif"))
    page.wait_for_state("done")
    page.page.fill("#bands", "4,3")
    page.page.press("#bands", "Enter")
    assert page.wait_for_state("done", "error") == "error"
    assert "bands must list 1 or 3 band numbers for the true_color preset." in page.text("#error-message")
    assert page.text("#error-message code") == "invalid_options"
    assert page.page.is_visible("#attributes-card")


def test_rejected_upload_status_failed_is_shown(page, s3_pipeline, tmp_path):
    """A PNG renamed .tif over the direct limit goes through S3; the trigger rejects it, and results/<id>
    answers {"status": "failed", "error": {...}}: the page stops polling and shows the code and message."""
    page.open(s3_pipeline.api.url)
    page.choose(png_named_tif(tmp_path / "not-a-geotiff.tif", size=(400, 300)))
    assert page.wait_for_state("done", "error", timeout_ms=S3_FLOW_TIMEOUT_MS) == "error"
    assert "could not be processed" in page.text("#error-title")
    assert page.text("#error-message code") == "unsupported_format"
    assert "PNG" in page.text("#error-message")
    page.screenshot("4-s3-failed")


def test_config_says_no_s3_so_a_file_over_the_limit_gets_a_message(page, local_api, tmp_path):
    """GET config answers s3_uploads false (no bucket, like `make serve`): nothing is uploaded."""
    page.page.route(
        "**/prod/config",
        lambda route: route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps({"max_upload_bytes": 10240, "s3_uploads": False}),
        ),
    )
    posts = []
    page.page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.open(local_api.url)
    assert "up to 10 KiB" in page.text("#limit-pill")
    page.choose(small_scene(tmp_path / "scene.tif"))
    assert page.wait_for_state("done", "error") == "error"
    assert "too large for this server" in page.text("#error-title")
    assert page.text("#error-message code") == "input_too_large"
    assert posts == []
    page.screenshot("5-too-large-no-s3")


@pytest.mark.parametrize("status", [404])
def test_without_config_the_page_still_uploads_directly(page, local_api, tmp_path, status):
    """An API without GET config (older deployments): the limit is unknown, files are sent directly."""
    page.page.route("**/prod/config", lambda route: route.fulfill(status=status, body="{}"))
    page.open(local_api.url)
    assert "unknown" in page.text("#limit-pill")
    page.choose(small_scene(tmp_path / "scene.tif"))
    assert page.wait_for_state("done", "error") == "done"
    assert thumbnail_size(page) == (512, 384)


def test_polling_stops_after_the_limit_with_a_message_and_can_resume(page, s3_pipeline, tmp_path):
    """results/<id> kept at 202 (routed): after the page's five-minute limit, on a fake clock, polling stops with
    the upload id; "Keep waiting" resumes it, and the real answer (the trigger has run meanwhile) is shown."""
    pending = {"on": True}
    page.page.route(
        "**/prod/results/*",
        lambda route: (
            route.fulfill(status=202, content_type="application/json", body='{"status": "pending"}')
            if pending["on"]
            else route.continue_()
        ),
    )
    page.page.clock.install()
    page.open(s3_pipeline.api.url)
    page.choose(large_scene(tmp_path / "S2_large_scene.tif"))
    page.page.wait_for_selector("#status-step:has-text('Waiting for the S3 trigger')")

    def run_clock_until(state: str) -> None:
        for _ in range(400):
            page.page.clock.run_for(5_000)
            if page.page.get_attribute("body", "data-state") == state:
                return
        pytest.fail(f"the page never reached {state}: {page.text('body')[:500]}")

    run_clock_until("error")
    assert page.text("#error-title") == "Still waiting for the S3 trigger"
    assert page.text("#error-message code") == "still_pending"
    assert "has not finished this upload after 5 minutes; the page stopped asking" in page.text("#error-message")
    assert "results/" in page.text("#error-detail")
    page.screenshot("6-poll-limit")

    pending["on"] = False
    page.page.click("#error-action:has-text('Keep waiting')")
    run_clock_until("done")
    assert thumbnail_size(page) == (512, 384)


def test_s3_refusing_the_upload_shows_its_code_and_message(page, s3_pipeline, tmp_path):
    """S3's own XML error (routed here: moto checks no POST policy) is shown with its code."""
    bucket_url = f"http://127.0.0.1:{s3_pipeline.s3_port}/local-input"
    page.page.route(
        bucket_url,
        lambda route: route.fulfill(
            status=403,
            content_type="application/xml",
            headers={"Access-Control-Allow-Origin": s3_pipeline.api.origin},
            body="<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>AccessDenied</Code>"
            "<Message>Invalid according to Policy: Policy expired.</Message></Error>",
        ),
    )
    page.open(s3_pipeline.api.url)
    page.choose(large_scene(tmp_path / "S2_large_scene.tif"))
    assert page.wait_for_state("done", "error") == "error"
    assert page.text("#error-message") == (
        "S3 refused the upload: Invalid according to Policy: Policy expired. AccessDenied"
    )
    assert "HTTP 403 from 127.0.0.1:" in page.text("#error-detail")
