"""Step-by-step guidance per issue type: what the specialist explains and the seller reads."""

from __future__ import annotations

_PLAN_STEP = (
    "Write a plan of action: the root cause, the corrective actions already taken, "
    "and the preventive measures for the future."
)

GUIDANCE: dict[str, tuple[str, ...]] = {
    "suspected_ip_violation": (
        "Open the flagged listings and compare them with the rights owner's claim.",
        "Remove or correct any listing that uses protected names, logos or images.",
        "Keep invoices or licences that show you may sell the brand.",
        _PLAN_STEP,
    ),
    "ip_complaint": (
        "Read the complaint: it names the rights owner and the kind of right "
        "(counterfeit, trademark, copyright or patent).",
        "Remove the listings concerned, or obtain a retraction from the rights owner.",
        "Gather the invoices, licences or authorisations that support your listings.",
        _PLAN_STEP,
    ),
    "product_authenticity_complaint": (
        "Identify the orders and products the buyers complained about.",
        "Find the supplier invoices for those products from the last 365 days.",
        "Remove inventory you cannot trace to an authorised supplier.",
        _PLAN_STEP,
    ),
    "product_condition_complaint": (
        "Review the orders with condition complaints and the buyers' messages.",
        "Inspect your stock and your packing process for the products concerned.",
        "Correct listings whose condition or description does not match what ships.",
        _PLAN_STEP,
    ),
    "food_product_safety": (
        "Stop selling the affected products until they are checked.",
        "Collect safety documents: test reports, certificates, expiry-date controls.",
        "Contact buyers who may be affected if the product is unsafe.",
        _PLAN_STEP,
    ),
    "restricted_product": (
        "Check the product against the marketplace's restricted-products rules.",
        "Remove the listing, or provide the approval that lets you sell it.",
        "Review your catalogue for similar products.",
        _PLAN_STEP,
    ),
    "listing_policy_violation": (
        "Open the flagged listings and read the rule each one breaks.",
        "Edit or remove the listings so that they follow the listing policy.",
        "Check your other listings for the same problem.",
        _PLAN_STEP,
    ),
    "review_policy_violation": (
        "Stop any practice that asks for, rewards or manipulates reviews.",
        "List the reviews or messages concerned and how they came about.",
        "Change your buyer messages and inserts so they stay neutral.",
        _PLAN_STEP,
    ),
    "fraud": (
        "Suspected fraud deactivates the account at once, protected or not.",
        "To appeal, submit a plan of action with evidence that the activity was not yours.",
    ),
    "deception": (
        "Suspected deception of buyers deactivates the account at once, protected or not.",
        "To appeal, submit a plan of action explaining what happened and what changed.",
    ),
    "illegal_activity": (
        "Suspected illegal activity deactivates the account at once, protected or not.",
        "To appeal, submit a plan of action with the documents that show the activity is legal.",
    ),
    "other_policy_violation": (
        "Read the policy named in the notice and how your account broke it.",
        "Correct the practice or listings concerned.",
        _PLAN_STEP,
    ),
}

ISSUE_TYPES: tuple[str, ...] = tuple(GUIDANCE)


def guidance_for(issue_type: str) -> list[str]:
    return list(GUIDANCE.get(issue_type, GUIDANCE["other_policy_violation"]))


def describe_issue_type(issue_type: str) -> str:
    words = issue_type.split("_")
    text = " ".join("IP" if word == "ip" else word for word in words)
    return text[:1].upper() + text[1:]
