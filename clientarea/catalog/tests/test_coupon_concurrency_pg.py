"""Coupon limits hold when many customers check out at the same moment (PostgreSQL).

Each checkout locks its customer, then the coupon row, and counts the uses under that lock, so
of eight customers racing for a coupon with three uses left exactly three get it; the others are
told it is used up and nothing of theirs is written. A customer racing two of their own
checkouts with a once-per-customer coupon gets it once.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from clientarea.billing.catalog_orders import CartItem, place_cart_order
from clientarea.billing.models import CouponRedemption, Order
from clientarea.billing.tests import make_product
from clientarea.catalog.models import Coupon, CouponKind
from clientarea.catalog.pricing import CouponError
from clientarea.subscriptions.models import Service
from clientarea.test import make_customer, make_provider

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(work, n: int) -> tuple[int, list[str]]:
    barrier = threading.Barrier(n)
    won: list[int] = []
    refused: list[str] = []
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            barrier.wait()
            work(i)
            won.append(i)
        except CouponError as exc:
            refused.append(str(exc))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return len(won), refused


def test_the_last_uses_of_a_coupon_go_to_exactly_that_many_checkouts():
    make_provider()
    product = make_product("hosting", prices={"monthly": "20000"})
    Coupon.objects.create(code="TRES", kind=CouponKind.PERCENT, value=Decimal("50"), max_uses=3)
    customers = [make_customer() for _ in range(8)]

    def work(i: int) -> None:
        place_cart_order(
            customer=customers[i],
            items=[CartItem(product_id=product.pk, cycle="monthly", label=f"s{i}.co")],
            coupon_code="TRES",
        )

    won, refused = race(work, 8)
    assert won == 3 and len(refused) == 5
    assert CouponRedemption.objects.count() == 3
    assert Order.objects.count() == 3 and Service.objects.count() == 3


def test_one_customer_racing_two_checkouts_uses_a_once_per_customer_coupon_once():
    make_provider()
    product = make_product("hosting", prices={"monthly": "20000"})
    Coupon.objects.create(
        code="UNA", kind=CouponKind.FIXED, value=Decimal("5000"), max_uses_per_customer=1
    )
    customer = make_customer()

    def work(i: int) -> None:
        place_cart_order(
            customer=customer,
            items=[CartItem(product_id=product.pk, cycle="monthly", label=f"t{i}.co")],
            coupon_code="UNA",
        )

    won, refused = race(work, 4)
    assert won == 1 and len(refused) == 3
    assert CouponRedemption.objects.filter(customer=customer).count() == 1
