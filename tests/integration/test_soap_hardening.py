"""Hostile SOAP requests against the real webrackd: every case is refused with a Client fault
before any handler runs, and nothing is applied (the account each request tries to create does
not exist afterwards). Raw bytes through requests, since no well-behaved client sends these."""

import time

import pytest

import soap_it as s
import webrack_it as w

MAX_BODY = 262144


@pytest.fixture(scope="module")
def env():
    st = w.Stack("soaphard", max_body_bytes=MAX_BODY)
    st.start()
    admin = st.admin()
    token = admin.call("token-create", name="hardening")["secret"]
    parent = w.provider_id(admin)
    try:
        yield st, admin, token, parent
    finally:
        st.stop(check=True)


def create_body(parent, name, extra="", name_el=None):
    name_el = name_el if name_el is not None else f"<w:name>{name}</w:name>"
    return (f"<w:createAccount><w:parentId>{parent}</w:parentId>{name_el}"
            f"<w:type>customer</w:type>{extra}</w:createAccount>")


def refused(env, data, code, fragment, name):
    st, admin, token, _ = env
    t0 = time.monotonic()
    r = s.post(st, data, token=token)
    took = time.monotonic() - t0
    s.expect_raw_fault(r, code, fragment)
    assert took < 5, f"refusing took {took:.1f} s"
    assert name not in [a["name"] for a in admin.items("account-list")], "applied anyway"


def test_valid_request_is_applied(env):
    st, admin, token, parent = env
    name = s.uniq("ok")
    r = s.post(st, s.envelope(create_body(parent, name)), token=token)
    assert r.status_code == 200, r.text[:500]
    assert "<createAccountResponse" in r.text and f"<name>{name}</name>" in r.text
    assert name in [a["name"] for a in admin.items("account-list")]


def test_size_cap_before_parsing(env):
    _, _, _, parent = env
    name = s.uniq("big")
    pad = "<!--" + "x" * MAX_BODY + "-->"
    refused(env, s.envelope(create_body(parent, name)) + pad, "Client.TooLarge", "too large",
            name)


def test_doctype_and_entities(env):
    _, _, _, parent = env
    name = s.uniq("dtd")
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                        for i in range(1, 10))
              + "]>")
    body = s.envelope(create_body(parent, name)).split("\n", 1)[1]
    refused(env, laughs + body.replace(name, name + "&lol9;"), "Client.Invalid", "DOCTYPE",
            name)
    xxe = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    refused(env, xxe + body.replace(name, name + "&e;"), "Client.Invalid", "DOCTYPE", name)
    ext = '<!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd">'
    refused(env, ext + body, "Client.Invalid", "DOCTYPE", name)
    refused(env, s.envelope(create_body(parent, name + "&undefined;")), "Client.Invalid",
            "malformed XML", name)
    xinc = ('<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
            'href="file:///etc/passwd" parse="text"/>')
    refused(env, s.envelope(create_body(parent, name, extra=xinc)), "Client.Invalid",
            "foreign namespace", name)


def test_encoding(env):
    _, _, _, parent = env
    name = s.uniq("enc")
    good = s.envelope(create_body(parent, name)).encode()
    refused(env, good.replace(name.encode(), name.encode() + b"\x00"), "Client.Invalid", "NUL",
            name)
    refused(env, good.replace(name.encode(), name.encode() + b"\xc3\x28"), "Client.Invalid",
            "invalid UTF-8", name)
    refused(env, good.replace(name.encode(), name.encode() + b"\xc0\xaf"), "Client.Invalid",
            "invalid UTF-8", name)
    latin = good.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"')
    refused(env, latin.replace(name.encode(), name.encode() + b"\xe9"), "Client.Invalid",
            "invalid UTF-8", name)
    refused(env, good.replace(name.encode(), name.encode() + b"&#1;"), "Client.Invalid",
            "malformed XML", name)


def test_limits(env):
    _, _, _, parent = env
    name = s.uniq("lim")
    deep = "<w:x>" * 100 + "</w:x>" * 100
    refused(env, s.envelope(create_body(parent, name, extra=deep)), "Client.Invalid",
            "nested deeper", name)
    long_text = "<w:name>" + "a" * 70000 + "</w:name>"
    refused(env, s.envelope(create_body(parent, name, name_el=long_text)), "Client.Invalid",
            "longer than", name)


def test_elements_and_numbers(env):
    _, _, _, parent = env
    name = s.uniq("el")
    cases = [
        (create_body(parent, name, extra="<w:name>again</w:name>"), "duplicate element <name>"),
        (create_body(parent, name, extra="<w:owner>1</w:owner>"), "unknown element <owner>"),
        (create_body(parent, name, name_el=""), "missing element <name>"),
        (create_body(parent, name, extra="<w:quotaCores>-1</w:quotaCores>"), "'quota_cores'"),
        (create_body(parent, name, extra="<w:quotaCores>2147483648</w:quotaCores>"),
         "'quota_cores'"),
        (create_body(parent, name, extra="<w:quotaCores>99999999999999999999</w:quotaCores>"),
         "out of range"),
        (create_body(parent, name, extra="<w:quotaCores>1e3</w:quotaCores>"),
         "must be an integer"),
        (create_body(parent, name, extra="<w:requireTwoFactor>true</w:requireTwoFactor>"),
         "unknown element"),
        (create_body(parent, name, extra="<w:require2fa>maybe</w:require2fa>"),
         "true or false"),
        (create_body(parent, name).replace("<w:type>customer", "<w:type>emperor"), "'type'"),
        (create_body(parent, name).replace("w:createAccount", "createAccount"), "namespace"),
        (create_body(parent, name).replace("createAccount", "createEverything"),
         "unknown operation"),
        (create_body(parent, name) + create_body(parent, name), "exactly one"),
    ]
    for body, fragment in cases:
        refused(env, s.envelope(body), "Client.Invalid", fragment, name)


def test_envelope_shape(env):
    _, _, _, parent = env
    name = s.uniq("shape")
    body = create_body(parent, name)
    soap12 = (f'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" '
              f'xmlns:w="{s.NS}"><e:Body>{body}</e:Body></e:Envelope>')
    refused(env, soap12, "Client.Invalid", "SOAP 1.2", name)
    refused(env, "not xml at all", "Client.Invalid", "malformed XML", name)
    refused(env, "", "Client.Invalid", "empty", name)
    refused(env, s.envelope(body, '<x:Tx xmlns:x="urn:x" s:mustUnderstand="1"/>'),
            "Client.Invalid", "mustUnderstand", name)
    # an unknown header without mustUnderstand is ignored, as SOAP 1.1 says
    st, admin, token, _ = env
    r = s.post(st, s.envelope(body, '<x:Trace xmlns:x="urn:x">1</x:Trace>'), token=token)
    assert r.status_code == 200, r.text[:300]
