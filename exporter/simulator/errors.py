"""Error responses in the formats the real services produce.

- Octavia controller errors (raised inside a WSME-exposed method) are rendered by WSME:
  ``{"faultcode": "Client", "faultstring": ..., "debuginfo": null}`` (``Server`` for 5xx).
- Octavia errors raised outside WSME (pecan routing, the pagination hook) are webob exceptions
  rendered with webob's JSON formatter: ``{"message", "code": "<status line>", "title"}``.
  Octavia's APIException subclasses webob's HTTPClientError without overriding its title, so a
  404 raised there has the status line "404 Bad Request".
- keystonemiddleware rejects a missing/invalid token with
  ``{"error": {"code": 401, "title": "Unauthorized", "message": ...}}`` and a
  ``WWW-Authenticate: Keystone uri="..."`` header; Keystone's own errors use the same shape.
  keystonemiddleware sits in front of Neutron too (``etc/neutron/api-paste.ini``), so Neutron's
  401 is this body as well, not a NeutronError.
- Neutron renders every other error with ``api_common.convert_exception_to_http_exc``:
  ``{"NeutronError": {"type": <exception class name>, "message": str(exception),
  "detail": ""}}``.
"""

from __future__ import annotations

import json

from aiohttp import web

JSON_TYPE = "application/json"

_CLIENT_ERROR_EXPLANATION = (
    "The server could not comply with the request since\r\n"
    "it is either malformed or otherwise incorrect.\r\n"
)


def _json_response(status: int, body: object, reason: str | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        reason=reason,
        body=json.dumps(body).encode(),
        content_type=JSON_TYPE,
        headers=headers,
    )


def wsme_error(status: int, message: str) -> web.Response:
    fault = "Client" if 400 <= status < 500 else "Server"
    return _json_response(status, {"faultcode": fault, "faultstring": message, "debuginfo": None})


def not_found(resource: str, obj_id: str) -> web.Response:
    """Octavia's NotFound as rendered by WSME."""
    return wsme_error(404, f"{resource} {obj_id} not found.")


def policy_forbidden() -> web.Response:
    return wsme_error(403, "Policy does not allow this request to be performed.")


def webob_api_error(code: int, message: str) -> web.Response:
    """An Octavia APIException rendered by webob (raised outside WSME)."""
    body = {
        "message": f"{_CLIENT_ERROR_EXPLANATION}<br /><br />\n{message}\n\n",
        "code": f"{code} Bad Request",
        "title": "Bad Request",
    }
    return _json_response(code, body, reason="Bad Request")


def webob_not_found() -> web.Response:
    """pecan's 404 for a path no controller serves."""
    body = {
        "message": "The resource could not be found.<br /><br />\n\n\n",
        "code": "404 Not Found",
        "title": "Not Found",
    }
    return _json_response(404, body)


def webob_method_not_allowed() -> web.Response:
    body = {
        "message": "The method specified is not allowed for this resource.<br /><br />\n\n\n",
        "code": "405 Method Not Allowed",
        "title": "Method Not Allowed",
    }
    return _json_response(405, body)


def keystone_error(status: int, title: str, message: str,
                   headers: dict[str, str] | None = None) -> web.Response:
    return _json_response(
        status, {"error": {"code": status, "title": title, "message": message}},
        headers=headers,
    )


def unauthorized(identity_uri: str) -> web.Response:
    """keystonemiddleware's rejection of a request without a valid token."""
    return keystone_error(
        401, "Unauthorized", "The request you have made requires authentication.",
        headers={"WWW-Authenticate": f'Keystone uri="{identity_uri}"'},
    )


def neutron_error(status: int, error_type: str, message: str,
                  headers: dict[str, str] | None = None) -> web.Response:
    """Neutron's error body (``neutron/api/api_common.py`` get_exception_data)."""
    return _json_response(
        status, {"NeutronError": {"type": error_type, "message": message, "detail": ""}},
        headers=headers,
    )


# What a Neutron error of a status looks like when nothing more specific is known: the
# exception class (webob's, or the policy engine's for 403) and its message.
NEUTRON_DEFAULT_ERRORS = {
    400: ("HTTPBadRequest", "The server could not comply with the request since it is either "
          "malformed or otherwise incorrect."),
    403: ("PolicyNotAuthorized", "rule:get_floatingip is disallowed by policy"),
    404: ("HTTPNotFound", "The resource could not be found."),
    405: ("HTTPMethodNotAllowed", "The server could not comply with the request since it is "
          "either malformed or otherwise incorrect."),
    409: ("Conflict", "A conflict occurred attempting to process the request."),
    500: ("HTTPInternalServerError", "Request Failed: internal server error while processing "
          "your request."),
}


def neutron_default_error(status: int) -> web.Response:
    error_type, message = NEUTRON_DEFAULT_ERRORS.get(
        status, NEUTRON_DEFAULT_ERRORS[500] if status >= 500 else NEUTRON_DEFAULT_ERRORS[400])
    return neutron_error(status, error_type, message)
