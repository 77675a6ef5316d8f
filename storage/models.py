"""The database schema. Migrations in storage/migrations mirror it; never create_all."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Feed(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    title: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    fetch_full_text: Mapped[bool] = mapped_column(Boolean, default=True)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    body_hash: Mapped[str | None] = mapped_column(String(64))
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_new_item_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    total_items: Mapped[int] = mapped_column(Integer, default=0)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The condition the admins were last told about (ingest.health.FeedCondition).
    alert_state: Mapped[str | None] = mapped_column(String(16))
    alert_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # An ingest worker's claim on a due feed (PostgreSQL, several workers): see
    # storage.feeds.claim_due_feeds.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("url"),
        Index("ix_articles_fetched_at", "fetched_at"),
        Index("ix_articles_published_at", "published_at"),
        Index("ix_articles_content_hash", "content_hash"),
        Index("ix_articles_facts_version", "facts_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int | None] = mapped_column(
        ForeignKey("feeds.id", ondelete="SET NULL"), index=True
    )
    guid: Mapped[str] = mapped_column(String(2048))
    url: Mapped[str] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    full_text: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(500), default="")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    content_hash: Mapped[str] = mapped_column(String(64))
    search_lemmas: Mapped[str] = mapped_column(Text, default="")
    # The fact extractor's version the article's facts come from; null: never extracted.
    facts_version: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)


class ArticleTag(Base):
    __tablename__ = "article_tags"
    __table_args__ = (
        UniqueConstraint("article_id", "kind", "value"),
        Index("ix_article_tags_kind_value", "kind", "value", "article_id", "score"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float)


class Chat(Base):
    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(16), default="private")
    title: Mapped[str | None] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(8), default="ru")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Omsk")
    digest_time: Mapped[str] = mapped_column(String(5), default="09:00")
    next_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notify_empty: Mapped[bool] = mapped_column(Boolean, default=False)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # Delivery modes (delivery.modes): the daily digest, the Monday brief, and the state of
    # instant messages (the earliest next one, and how far new articles were looked at).
    daily: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    weekly: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    next_weekly_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    next_instant_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    instant_seen_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when the chat subscribes, cleared when its first articles are in the outbox
    # (delivery.welcome).
    welcome_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ChatCountry(Base):
    __tablename__ = "chat_countries"

    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    country: Mapped[str] = mapped_column(String(8), primary_key=True)


class ChatTopic(Base):
    __tablename__ = "chat_topics"

    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(32), primary_key=True)


class ChatInstantTopic(Base):
    """Topics whose new articles reach the chat at once (instant mode)."""

    __tablename__ = "chat_instant_topics"

    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(32), primary_key=True)


class ChatKeyword(Base):
    """A keyword filter word: `include` words narrow, the others remove (by lemma)."""

    __tablename__ = "chat_keywords"

    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    lemma: Mapped[str] = mapped_column(String(64), primary_key=True)
    include: Mapped[bool] = mapped_column(Boolean)
    word: Mapped[str] = mapped_column(String(64))


class ChatRegion(Base):
    """A Russian region (ISO 3166-2 code) the chat keeps; none stored means every region."""

    __tablename__ = "chat_regions"

    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    region: Mapped[str] = mapped_column(String(16), primary_key=True)


class ChatTopicBinding(Base):
    """In a forum supergroup: the topic (message thread) a country's news go to."""

    __tablename__ = "chat_topic_bindings"

    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    country: Mapped[str] = mapped_column(String(8), primary_key=True)
    thread_id: Mapped[int] = mapped_column(BigInteger)


class Media(Base):
    """A picture sent with outbox rows (the weekly chart), stored once per content; the
    file id Telegram gave it the first time lets later sends skip the upload. A picture may
    be queued as its `recipe` (what to draw) with no content yet: the sender draws it before
    its first send and stores the content (`sha256` is then the recipe's)."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    recipe: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(String(100))
    telegram_file_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SentArticle(Base):
    """Which article went to which chat: the guarantee of "never twice"."""

    __tablename__ = "sent_articles"
    __table_args__ = (Index("ix_sent_articles_chat_id_sent_at", "chat_id", "sent_at"),)

    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutboxMessage(Base):
    """One message due to one chat; rows of one digest share chat_id and digest_key."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("chat_id", "digest_key", "part"),
        Index(
            "ix_outbox_status_priority_available_at_id", "status", "priority", "available_at", "id"
        ),
        Index("ix_outbox_chat_id_id", "chat_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE", onupdate="CASCADE")
    )
    digest_key: Mapped[str] = mapped_column(String(64))
    digest_date: Mapped[date | None] = mapped_column(Date)
    part: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16), default="digest")
    text: Mapped[str] = mapped_column(Text)
    reply_markup: Mapped[str | None] = mapped_column(Text)
    article_ids: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The forum topic the row goes to (None: the chat itself or its general topic).
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id"))
    # Claims go by (priority, available_at, id): 0 for a message a person is waiting for,
    # 1 (bulk) for digests and the rest (storage.outbox).
    priority: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")


class Fact(Base):
    """An agreement or a trade figure; one row per fact however many articles report it."""

    __tablename__ = "facts"
    __table_args__ = (UniqueConstraint("key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "agreement" | "figure"
    key: Mapped[str] = mapped_column(String(64))
    countries: Mapped[str] = mapped_column(String(200), default="")  # "KZ,UZ"
    subject: Mapped[str] = mapped_column(Text, default="")
    parties: Mapped[str] = mapped_column(Text, default="")  # "\n"-separated
    status: Mapped[str | None] = mapped_column(String(16))
    day: Mapped[date | None] = mapped_column(Date)
    indicator: Mapped[str | None] = mapped_column(String(32))
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(100))
    change: Mapped[bool | None] = mapped_column(Boolean)
    period: Mapped[str | None] = mapped_column(String(200))
    sort_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # An agreement's storage.facts.AgreementTerms, encoded; "" for figures.
    signature: Mapped[str] = mapped_column(Text, default="", server_default="")


class FactCountry(Base):
    """A fact's partner countries, with its kind and date copied for ordered paging."""

    __tablename__ = "fact_countries"
    __table_args__ = (Index("ix_fact_countries_country", "country", "kind", "sort_at"),)

    fact_id: Mapped[int] = mapped_column(
        ForeignKey("facts.id", ondelete="CASCADE"), primary_key=True
    )
    country: Mapped[str] = mapped_column(String(8), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    sort_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FactSource(Base):
    __tablename__ = "fact_sources"

    fact_id: Mapped[int] = mapped_column(
        ForeignKey("facts.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class SendBudget(Base):
    """One bot token's send rate, shared by every sender process (storage.budget): the
    next free send slot and the end of a pause Telegram asked for, both in the database
    server's epoch seconds."""

    __tablename__ = "send_budget"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_slot: Mapped[float] = mapped_column(Float)
    paused_until: Mapped[float] = mapped_column(Float)
