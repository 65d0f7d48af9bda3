"""Profile: the name and email address, the avatar (a real image, checked and resized before it is
stored) and the generation defaults a person keeps (model, style and parameters, applied when the Generate
page opens)."""

from __future__ import annotations

import contextlib
import io
import uuid
import warnings
from dataclasses import dataclass, replace

from PIL import Image as PILImage
from PIL import ImageOps
from sqlalchemy.orm import Session

from studio.adapters.db.models import User, UserSettings
from studio.domain.accounts import Account, TokenPurpose, email_problem, name_problem, normalize_email
from studio.domain.parameters import Request, provider_arguments
from studio.errors import InvalidForm, InvalidInput, NotFound, StorageError, WrongCredentials
from studio.services import mails
from studio.services.accounts import links
from studio.services.accounts.sessions import active, to_account
from studio.services.accounts.signup import refuse_taken
from studio.services.context import Services
from studio.services.generation import catalogue
from studio.services.passwords import check_password

AVATAR_MAX_BYTES = 5 * 1024 * 1024
AVATAR_MAX_PIXELS = 40_000_000  # checked from the header, before any pixel is decoded
AVATAR_SIDE = 256
_AVATAR_FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}


def update_name(services: Services, user_id: uuid.UUID, name: str) -> Account:
    problem = name_problem(name)
    if problem:
        raise InvalidForm([problem])
    with services.uow() as uow:
        user = active(uow.users.get(user_id))
        if user is None:
            raise NotFound("no such account")
        user.name = name.strip()
        account = to_account(user)
        uow.commit()
    return account


def request_email_change(services: Services, user_id: uuid.UUID, new_email: str, password: str) -> None:
    """Mail a confirmation link to the new address; the account keeps its address until it is opened."""
    problem = email_problem(new_email)
    if problem:
        raise InvalidForm([problem])
    address = normalize_email(new_email)
    with services.uow() as uow:
        user = active(uow.users.get(user_id))
        if user is None:
            raise NotFound("no such account")
        if user.password_hash is not None and not check_password(password, user.password_hash):
            raise WrongCredentials("Your password is not right.")
        if address == user.email:
            raise InvalidForm(["That is already your email address."])
        refuse_taken(uow.session, email=address)
        links.check_budget(uow.session, user.id, TokenPurpose.CHANGE_EMAIL)
        raw = links.issue_token(uow.session, user, TokenPurpose.CHANGE_EMAIL, address)
        account = to_account(user)
        uow.commit()
    mails.send(services, mails.email_change(services.settings, account, address, raw))


# --- the avatar -----------------------------------------------------------------------------------------


def avatar_image(data: bytes) -> bytes:
    """A square WebP of AVATAR_SIDE pixels from an uploaded file, or InvalidInput saying what is wrong."""
    if not data:
        raise InvalidInput("The file is empty.")
    if len(data) > AVATAR_MAX_BYTES:
        raise InvalidInput(f"A picture can be at most {AVATAR_MAX_BYTES // (1024 * 1024)} MB; this one is "
                           f"{len(data) / (1024 * 1024):.1f} MB.")  # fmt: skip
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            square = _square(data)
    except (PILImage.DecompressionBombWarning, PILImage.DecompressionBombError):
        raise InvalidInput("That picture has too many pixels; use one under 40 megapixels.") from None
    except InvalidInput:
        raise
    except (OSError, ValueError, SyntaxError):
        raise InvalidInput(
            "That file is not a picture the studio can read (PNG, JPEG, WebP or GIF)."
        ) from None
    out = io.BytesIO()
    square.save(out, "WEBP", quality=85)
    return out.getvalue()


def _square(data: bytes) -> PILImage.Image:
    with PILImage.open(io.BytesIO(data)) as image:
        if image.format not in _AVATAR_FORMATS:
            raise InvalidInput("Use a PNG, JPEG, WebP or GIF picture.")
        width, height = image.size
        if width * height > AVATAR_MAX_PIXELS:
            raise InvalidInput(f"That picture is {width}×{height} pixels; use one under 40 megapixels.")
        image.seek(0)
        image.load()
        return ImageOps.fit(ImageOps.exif_transpose(image).convert("RGB"), (AVATAR_SIDE, AVATAR_SIDE))


def set_avatar(services: Services, user_id: uuid.UUID, data: bytes) -> Account:
    """Store a new avatar and drop the old one."""
    picture = avatar_image(data)
    key = f"avatars/{user_id}/{uuid.uuid4().hex}.webp"
    services.storage.put(key, picture, "image/webp")
    with services.uow() as uow:
        user = uow.users.get(user_id)
        if user is None or user.deleted_at is not None:
            services.storage.delete(key)
            raise NotFound("no such account")
        old, user.avatar_key = user.avatar_key, key
        account = to_account(user)
        uow.commit()
    _delete_quietly(services, old)
    return account


def remove_avatar(services: Services, user_id: uuid.UUID) -> Account:
    with services.uow() as uow:
        user = uow.users.get(user_id)
        if user is None:
            raise NotFound("no such account")
        old, user.avatar_key = user.avatar_key, None
        account = to_account(user)
        uow.commit()
    _delete_quietly(services, old)
    return account


def _delete_quietly(services: Services, key: str | None) -> None:
    if key:
        with contextlib.suppress(StorageError):  # at worst an orphaned 256 px file
            services.storage.delete(key)


def avatar_url(services: Services, account: Account) -> str | None:
    return services.files.url(account.avatar_key) if account.avatar_key else None


# --- generation defaults ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Defaults:
    """What the Generate page starts from: a request without prompt or seed."""

    request: Request
    model_name: str


def _settings_row(session: Session, user: User | None) -> UserSettings:
    if user is None or user.deleted_at is not None:
        raise NotFound("no such account")
    row = session.get(UserSettings, user.id)
    if row is None:
        row = UserSettings(user_id=user.id)
        session.add(row)
    return row


def save_defaults(services: Services, user_id: uuid.UUID, request: Request) -> Defaults:
    """Keep `request`'s model, style and parameters (not its prompt or seed) as the person's defaults;
    refused, with every problem named, when the model would not accept them."""
    spec = catalogue.model_spec(services, request.model)
    params = {name: value for name, value in request.params.items() if name != "seed"}
    kept = replace(request, prompt="", negative_prompt="", params=params)
    provider_arguments(spec, replace(kept, prompt="check"))  # raises InvalidParameters
    with services.uow() as uow:
        row = _settings_row(uow.session, uow.users.get(user_id))
        row.default_model = spec.endpoint_id
        row.default_params = kept.to_json()
        uow.commit()
    return Defaults(kept, spec.name)


def defaults(services: Services, user_id: uuid.UUID) -> Request | None:
    """The saved defaults (callers check the model against the ones switched on, which they hold)."""
    with services.uow() as uow:
        row = uow.session.get(UserSettings, user_id)
        model, saved = (row.default_model, dict(row.default_params)) if row else (None, {})
    if not model:
        return None
    request = Request.from_json(saved) if saved else Request(model, "", "", "None", {})
    return replace(request, model=model)


def set_default_model(services: Services, user_id: uuid.UUID, endpoint: str | None) -> None:
    """Pick the default model (None: no default). The saved settings stay when the model stays."""
    if endpoint is None:
        clear_defaults(services, user_id)
        return
    saved = defaults(services, user_id)
    keep = saved if saved is not None and saved.model == endpoint else Request(endpoint, "", "", "None", {})
    save_defaults(services, user_id, keep)


def clear_defaults(services: Services, user_id: uuid.UUID) -> None:
    with services.uow() as uow:
        row = _settings_row(uow.session, uow.users.get(user_id))
        row.default_model = None
        row.default_params = {}
        uow.commit()
