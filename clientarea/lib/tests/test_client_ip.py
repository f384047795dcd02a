from django.test import RequestFactory

from clientarea.lib.http import client_ip

rf = RequestFactory()


def test_without_proxies_it_is_the_peer_address(settings):
    settings.PROXY_COUNT = 0
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert client_ip(request) == "10.0.0.2"  # a client-written header is never trusted


def test_behind_one_proxy_it_is_the_last_forwarded_entry(settings):
    settings.PROXY_COUNT = 1
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.5")
    assert client_ip(request) == "203.0.113.5"


def test_behind_two_proxies_it_skips_the_inner_proxy(settings):
    settings.PROXY_COUNT = 2
    request = rf.get(
        "/", REMOTE_ADDR="10.0.0.3", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.5, 10.0.0.2"
    )
    assert client_ip(request) == "203.0.113.5"


def test_garbage_is_no_address(settings):
    settings.PROXY_COUNT = 1
    assert client_ip(rf.get("/", HTTP_X_FORWARDED_FOR="not-an-ip")) is None
    assert client_ip(None) is None
