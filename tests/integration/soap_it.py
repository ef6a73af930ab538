"""Helpers of the SOAP integration tests: zeep clients on a stack's /soap?wsdl (with a Bearer
token or a WS-Security UsernameToken carrying Nonce and Created), and raw SOAP requests sent
with requests for the cases no well-behaved client produces.

zeep's own UsernameToken sends PasswordText without Nonce and Created; webrack requires both
(replay protection), so UsernameTokenText adds them, a fresh nonce per request. This is the
snippet docs/ARCHITECTURE.md gives to customers.
"""

import base64
import datetime
import html
import os
import re
import uuid

import zeep
from zeep.transports import Transport
from zeep.wsse import utils as wsse_utils
from zeep.wsse.username import UsernameToken

import webrack_it as w

NS = "urn:webrack:soap:1"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = ("http://docs.oasis-open.org/wss/2004/01/"
        "oasis-200401-wss-wssecurity-secext-1.0.xsd")
WSU = ("http://docs.oasis-open.org/wss/2004/01/"
       "oasis-200401-wss-wssecurity-utility-1.0.xsd")
PASSWORD_TEXT = ("http://docs.oasis-open.org/wss/2004/01/"
                 "oasis-200401-wss-username-token-profile-1.0#PasswordText")


class UsernameTokenText(UsernameToken):
    """PasswordText plus a fresh Nonce and Created on every request."""

    def _create_password_text(self):
        return super()._create_password_text() + [
            wsse_utils.WSSE.Nonce(
                base64.b64encode(os.urandom(16)).decode(),
                EncodingType=f"{self.soap_message_secutity_ns}#Base64Binary"),
            wsse_utils.WSU.Created(wsse_utils.get_timestamp(zulu_timestamp=True)),
        ]


def client(stack, username=None, password=None, token=None, timeout=60):
    """A zeep client built from the stack's live WSDL."""
    s = w.new_session()
    s.verify = False
    if token is not None:
        s.headers["Authorization"] = f"Bearer {token}"
    wsse = UsernameTokenText(username, password) if username is not None else None
    transport = Transport(session=s, timeout=timeout, operation_timeout=timeout)
    return zeep.Client(f"{stack.url}/soap?wsdl", transport=transport, wsse=wsse)


def fault_code(exc):
    """The stable code of a zeep Fault (Client.NotFound, ...), from faultcode and detail."""
    assert isinstance(exc, zeep.exceptions.Fault), repr(exc)
    code = (exc.code or "").split(":")[-1]
    detail = exc.detail
    if detail is not None:
        el = detail.find(f"{{{NS}}}fault/{{{NS}}}code")
        assert el is not None and el.text == code, (code, detail)
    return code


def expect_fault(code, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except zeep.exceptions.Fault as e:
        got = fault_code(e)
        assert got == code, f"expected {code}, got {got}: {e.message}"
        return e
    raise AssertionError(f"expected fault {code}, the call succeeded")


# ------------------------------------------------------------------ raw requests

def envelope(body, header=""):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<s:Envelope xmlns:s="{ENV}" xmlns:w="{NS}">'
            f'{"<s:Header>" + header + "</s:Header>" if header else ""}'
            f'<s:Body>{body}</s:Body></s:Envelope>')


def wsse_header(username, password, nonce=None, created=None, with_nonce=True,
                with_created=True):
    if nonce is None:
        nonce = base64.b64encode(os.urandom(16)).decode()
    if created is None:
        created = datetime.datetime.now(datetime.timezone.utc)
    parts = [f"<o:Username>{username}</o:Username>",
             f'<o:Password Type="{PASSWORD_TEXT}">{password}</o:Password>']
    if with_nonce:
        parts.append(f"<o:Nonce>{nonce}</o:Nonce>")
    if with_created:
        parts.append(f"<u:Created>{created.strftime('%Y-%m-%dT%H:%M:%SZ')}</u:Created>")
    return (f'<o:Security xmlns:o="{WSSE}" xmlns:u="{WSU}"><o:UsernameToken>'
            f'{"".join(parts)}</o:UsernameToken></o:Security>')


def post(stack, data, token=None, headers=None, cookies=None):
    """POST raw bytes to /soap; returns the requests response."""
    s = w.new_session()
    h = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    h.update(headers or {})
    if isinstance(data, str):
        data = data.encode()
    return s.post(f"{stack.url}/soap", data=data, headers=h, cookies=cookies, verify=False,
                  timeout=60)


def raw_fault(r):
    """(code, message) of a raw fault response; asserts it is one."""
    assert r.status_code == 500, (r.status_code, r.text[:500])
    assert r.headers["Content-Type"].startswith("text/xml"), r.headers
    m = re.search(r"<faultcode>soap:([A-Za-z.]+)</faultcode><faultstring>(.*?)</faultstring>",
                  r.text, re.S)
    assert m, r.text[:500]
    return m.group(1), html.unescape(m.group(2))


def expect_raw_fault(r, code, fragment=None):
    got, message = raw_fault(r)
    assert got == code, f"expected {code}, got {got}: {message}"
    if fragment is not None:
        assert fragment in message, message
    return message


def uniq(prefix="s"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
