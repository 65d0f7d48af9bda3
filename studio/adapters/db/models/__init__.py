"""The studio's tables as SQLAlchemy 2 typed models, one module per concept.

UUID keys, aware UTC timestamps, JSON on SQLite and JSONB on PostgreSQL. The schema itself changes only
through the Alembic migrations in `studio/migrations`; a test checks that they and these models agree.
"""

from studio.adapters.db.models.accounts import (
    ApiKey,
    AuditLog,
    DataExport,
    EmailToken,
    User,
    UserSettings,
)
from studio.adapters.db.models.analytics import DailyRollup, DailyStat
from studio.adapters.db.models.base import Base, utcnow
from studio.adapters.db.models.billing import (
    CheckoutSession,
    CreditLedger,
    Plan,
    StripeEvent,
    Subscription,
)
from studio.adapters.db.models.generation import (
    Batch,
    CatalogueModel,
    GenerationJob,
    Preset,
    Prompt,
    StyleModifier,
    UsageLog,
    WildcardList,
)
from studio.adapters.db.models.library import (
    Collection,
    CollectionImage,
    Comment,
    Image,
    ImageTag,
    Project,
    ShareLink,
)

__all__ = [
    "ApiKey", "AuditLog", "Base", "Batch", "CatalogueModel", "CheckoutSession", "Collection",
    "CollectionImage",
    "Comment", "CreditLedger", "DailyRollup", "DailyStat", "DataExport", "EmailToken", "GenerationJob",
    "Image", "ImageTag", "Plan",
    "Preset", "Project", "Prompt",
    "ShareLink", "StripeEvent", "StyleModifier", "Subscription", "UsageLog", "User", "UserSettings",
    "WildcardList", "utcnow",
]  # fmt: skip
