"""Fixtures of the integration tests: one shared stack (private PostgreSQL +
webrackd) for the session; modules that disturb the daemon (throttling,
signals, PostgreSQL outage) build their own stack with webrack_it.Stack.

Run from the repository root after the build:
    /usr/bin/python3 -m pytest tests/integration -q
Environment: WEBRACKD (binary, default controller/webrackd), PGCLUSTER
(default scripts/pgcluster), WEBRACK_KEEP_TEST_DIRS=1 keeps var/test/<stack>
(config, logs, cluster) for a post-mortem. A failing test shows the tail of
webrackd's log in its report."""

import pytest

import webrack_it as w


def pytest_configure(config):
    # the test server's certificate is self-signed; the client does not verify it
    config.addinivalue_line("filterwarnings",
                            "ignore::urllib3.exceptions.InsecureRequestWarning")


@pytest.fixture(scope="session")
def stack():
    st = w.Stack("main")
    st.start()
    yield st
    # Raises (shown as a teardown error) unless webrackd exits 0 on SIGTERM.
    st.stop(check=True)


@pytest.fixture(scope="session")
def padmin(stack):
    """The provider admin, logged in with a cookie session."""
    return stack.admin()


@pytest.fixture(scope="session")
def provider_id(padmin):
    return w.provider_id(padmin)


@pytest.fixture
def tree(stack, padmin):
    """A fresh provider -> reseller -> customer tree with an admin on each level."""
    return w.make_tree(stack, padmin)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for st in list(w.ACTIVE_STACKS):
            rep.sections.append((f"webrackd log ({st.name})", st.log_tail()))
        for reporter in list(w.FAILURE_REPORTERS):
            rep.sections.extend(reporter())
