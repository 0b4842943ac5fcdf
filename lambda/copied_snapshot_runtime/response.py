"""Delivers the answer to CloudFormation's pre-signed ResponseURL, with bounded retries.

crhelper's own sender retries forever once five attempts fail and counts any HTTP answer, 403 included,
as delivered. The URL is a credential, so it is never logged.
"""

from __future__ import annotations

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


def send_response(
    response_url: str,
    response_body: Mapping[str, Any],
    ssl_verify: object = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """PUTs the response; True once CloudFormation accepted it (2xx), False after ATTEMPTS tries."""
    del ssl_verify  # certificates come from the standard trust store (SSL_CERT_FILE honoured)
    body = json.dumps(response_body).encode()
    for attempt in range(1, ATTEMPTS + 1):
        request = urllib.request.Request(  # noqa: S310 - CloudFormation's own HTTPS URL
            response_url, data=body, method="PUT", headers={"content-type": ""}
        )
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as answer:  # noqa: S310
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
        except (urllib.error.URLError, OSError) as error:
            logger.warning(
                "response not delivered (attempt %d of %d): %s", attempt, ATTEMPTS, type(error).__name__
            )
        else:
            if 200 <= status < 300:
                logger.info("response delivered: %s, status %d", response_body.get("Status"), status)
                return True
            logger.warning("response refused (attempt %d of %d): HTTP %d", attempt, ATTEMPTS, status)
        if attempt < ATTEMPTS:
            sleep(min(2.0**attempt, MAX_BACKOFF_SECONDS))
    logger.error("response not delivered after %d attempts; CloudFormation will time out", ATTEMPTS)
    return False
