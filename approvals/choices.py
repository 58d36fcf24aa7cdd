from django.db import models


class RequestState(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    CHECKING = "checking", "Checking"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    WITHDRAWN = "withdrawn", "Withdrawn"
    EXPIRED = "expired", "Expired"


OPEN_REQUEST_STATES = [RequestState.SUBMITTED, RequestState.CHECKING, RequestState.IN_REVIEW]
