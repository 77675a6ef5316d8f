"""Telegram handlers: one router per feature, keyboards and callback data beside them."""

from __future__ import annotations

from aiogram import Router


def get_routers() -> list[Router]:
    """Fresh routers in the order they are tried; the fallback comes last."""
    from handlers import (
        admin,
        archive,
        chat_settings,
        delivery_settings,
        digest,
        errors,
        fallback,
        info,
        membership,
        onboarding,
        stats,
        subscription,
        why,
    )

    modules = (
        errors,
        membership,
        onboarding,
        chat_settings,
        delivery_settings,
        subscription,
        info,
        archive,
        digest,
        stats,
        admin,
        why,
        fallback,
    )
    return [module.create_router() for module in modules]
