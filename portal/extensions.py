"""Every Flask extension, created unbound here and bound to the app in create_app()."""

from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from flask import Flask, Request, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf import CSRFProtect
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import MetaData, Table
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session

# Named constraints give Alembic stable names to alter and drop, on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base whose metadata carries the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

if TYPE_CHECKING:
    # db.Model is made at run time (Base plus Flask-SQLAlchemy's Model), which a type checker
    # cannot follow; the models subclass this name so their Mapped columns are typed.
    from flask_sqlalchemy.model import Model as FlaskModel

    class Model(Base, FlaskModel):
        """What db.Model is, spelt out for the type checker."""

        # Each model maps one table (SQLAlchemy types it as any FromClause), so Core's
        # insert(), update() and delete() may be given Model.__table__.
        __table__: ClassVar[Table]

else:
    Model = db.Model

# db.session is a scoped_session (one Session per app context), while the delivery worker and
# scripts may hold a plain Session: code that takes either is typed with this.
SessionLike: TypeAlias = Session | scoped_session[FlaskSession]
migrate = Migrate()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
mail = Mail()
login_manager = LoginManager()
# The language of a page is its URL's (i18n.locale_selector, bound in create_app).
babel = Babel()


class HttpsSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, whose cookie is also Secure whenever served over HTTPS.

    A Secure cookie is named ``__Host-session``: browsers accept that name only with Secure,
    Path=/ and no Domain, so no other host of the domain (nor a plain-HTTP response) can set or
    shadow the staff session.
    """

    HOST_PREFIXED = "__Host-session"

    def __init__(self) -> None:
        self._serializers: dict[tuple[Any, ...], URLSafeTimedSerializer] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        # Flask builds a new serializer for every request that opens or saves the session (a
        # twentieth of a form GET); it holds nothing but the keys, so one per set of keys does.
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        if keys not in self._serializers:
            serializer = super().get_signing_serializer(app)
            if serializer is None:
                return None
            self._serializers[keys] = serializer
        return self._serializers[keys]

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)

    def get_cookie_name(self, app: Flask) -> str:
        if self.get_cookie_secure(app):
            return self.HOST_PREFIXED
        return super().get_cookie_name(app)

    def get_cookie_domain(self, app: Flask) -> str | None:
        if self.get_cookie_secure(app):
            return None
        return super().get_cookie_domain(app)

    def get_cookie_path(self, app: Flask) -> str:
        if self.get_cookie_secure(app):
            return "/"
        return super().get_cookie_path(app)

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # The API authenticates with bearer tokens only: a cookie sent to /api/ is never read
        # (so no staff session can act there, and there is nothing for CSRF to abuse).
        if request.path.startswith("/api/"):
            return self.make_null_session(app)
        return super().open_session(app, request)
