"""Reading what a case may know of a seller, the policy in force, and deactivating accounts."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from aha.domain.models import SellerProfile
from aha.domain.policy import Policy
from aha.domain.vocabulary import AccountStatus
from aha.ports import DeliveryLedger, SellerDirectory

log = structlog.get_logger(__name__)


class AccountActivities:
    def __init__(
        self,
        directory: SellerDirectory,
        policy: Callable[[], Policy],
        deliveries: DeliveryLedger,
    ) -> None:
        self.directory = directory
        self.policy = policy
        self.deliveries = deliveries

    @activity.defn
    def seal_case(self, run_key: str) -> None:
        """Mark the case run closed: any call or reminder still retried for it is refused."""
        self.deliveries.seal(run_key)

    @activity.defn
    def current_policy(self) -> Policy:
        return self.policy()

    @activity.defn
    def seller_profile(self, seller_id: str) -> SellerProfile:
        contact = self.directory.get(seller_id)
        if contact is None:
            raise ApplicationError(
                f"unknown seller {seller_id!r}", type="UnknownSeller", non_retryable=True
            )
        return contact.profile()

    @activity.defn
    def deactivate_account(self, seller_id: str) -> None:
        """Deactivate the seller's account; doing it again changes nothing."""
        try:
            self.directory.set_account_status(seller_id, AccountStatus.DEACTIVATED)
        except LookupError as err:
            raise ApplicationError(str(err), type="UnknownSeller", non_retryable=True) from err
        log.warning(
            "account deactivated", seller_id=seller_id, workflow_id=activity.info().workflow_id
        )

    @activity.defn
    def reactivate_account(self, seller_id: str) -> None:
        """Reactivate the seller's account after an accepted appeal; doing it again changes
        nothing."""
        try:
            self.directory.set_account_status(seller_id, AccountStatus.ACTIVE)
        except LookupError as err:
            raise ApplicationError(str(err), type="UnknownSeller", non_retryable=True) from err
        log.warning(
            "account reactivated", seller_id=seller_id, workflow_id=activity.info().workflow_id
        )
