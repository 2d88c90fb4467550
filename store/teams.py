"""Teams conversation references (the ``teams_conversation`` table in store/models.py): where
the bot may write proactively, as Teams said when the app was installed."""

from __future__ import annotations

from sqlmodel import Session

from store.models import TeamsConversation, utcnow


def save_reference(session: Session, conversation_id: str, *, service_url: str, tenant_id: str | None,
                   team_id: str | None, kind: str) -> None:
    row = session.get(TeamsConversation, conversation_id)
    if row is None:
        row = TeamsConversation(conversation_id=conversation_id, service_url=service_url,
                                tenant_id=tenant_id, team_id=team_id, kind=kind)
    else:
        row.service_url, row.tenant_id, row.team_id, row.kind = service_url, tenant_id, team_id, kind
        row.updated_at = utcnow()
    session.add(row)


def service_url(session: Session, conversation_id: str) -> str | None:
    """The service URL Teams gave for this conversation (a channel's thread id may carry
    ``;messageid=``: the channel's own reference is used)."""
    row = session.get(TeamsConversation, conversation_id.split(";", 1)[0])
    return row.service_url if row is not None else None
