"""Delivers the answer to CloudFormation's pre-signed ResponseURL, with bounded retries.

crhelper's own sender retries forever once five attempts fail and counts any HTTP answer, 403 included,
as delivered. The URL is a credential, so it is never logged, not even when it is malformed.

A 4xx answer is not asked again: the URL is pre-signed, so a refusal does not pass (assumed: an S3
pre-signed URL that has expired, or whose answer was already taken, answers 403 or 400). It is logged as
information, not as a failure: it is what a repeated answer meets.
"""

from __future__ import annotations

import enum
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

logger = logging.getLogger(__name__)

ATTEMPTS = 5
MAX_BACKOFF_SECONDS = 16.0
REQUEST_TIMEOUT_SECONDS = 30.0


def _put(url: str, body: bytes, attempt: int, attempts: int) -> int | None:
    """The HTTP status the PUT met, or None when it met none."""
    try:
        request = urllib.request.Request(  # noqa: S310 - CloudFormation's own HTTPS URL
            url, data=body, method="PUT", headers={"content-type": ""}
        )
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as error:
        # The message of these may quote the URL: only the type is logged.
        logger.warning(
            "response not delivered (attempt %d of %d): %s", attempt, attempts, type(error).__name__
        )
        return None


class Delivery(enum.Enum):
    DELIVERED = "delivered"  # 2xx
    REFUSED = "refused"  # 4xx: the URL takes no (further) answer; asking again will not help
    UNDELIVERED = "undelivered"  # no answer, or 5xx, every time


def send_response(
    response_url: str,
    response_body: Mapping[str, Any],
    ssl_verify: object = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = ATTEMPTS,
) -> Delivery:
    """PUTs the response, up to `attempts` times while it meets no answer or a 5xx."""
    del ssl_verify  # certificates come from the standard trust store (SSL_CERT_FILE honoured)
    body = json.dumps(response_body).encode()
    for attempt in range(1, attempts + 1):
        status = _put(response_url, body, attempt, attempts)
        if status is not None and 200 <= status < 300:
            logger.info("response delivered: %s, status %d", response_body.get("Status"), status)
            return Delivery.DELIVERED
        if status is not None and 400 <= status < 500:
            logger.info(
                "response refused with HTTP %d: the URL has taken an answer already or expired (assumed)",
                status,
            )
            return Delivery.REFUSED
        if status is not None:
            logger.warning("response refused (attempt %d of %d): HTTP %d", attempt, attempts, status)
        if attempt < attempts:
            sleep(min(2.0**attempt, MAX_BACKOFF_SECONDS))
    logger.error("response not delivered after %d attempts", attempts)
    return Delivery.UNDELIVERED
