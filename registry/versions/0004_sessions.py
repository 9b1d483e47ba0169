"""sessions over the API (``forager.sessions``) and their recorded turns

Revision ID: 0004_sessions
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = '0004_sessions'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sessions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('token_id', sa.String(length=40), nullable=False),
    sa.Column('task_id', sa.String(length=40), nullable=False),
    sa.Column('trajectory_id', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('container', sa.String(length=200), nullable=False),
    sa.Column('user', sa.String(length=40), nullable=False),
    sa.Column('test_command', sa.Text(), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=True),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.Column('steps', sa.Integer(), nullable=False),
    sa.Column('max_actions', sa.Integer(), nullable=False),
    sa.Column('action_timeout_s', sa.Integer(), nullable=False),
    sa.Column('busy_until', sa.DateTime(), nullable=True),
    sa.Column('shell_owner', sa.String(length=200), nullable=True),
    sa.Column('reward', sa.JSON(), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_active_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sessions_token_id'), ['token_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sessions_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_sessions_created_at'), ['created_at'], unique=False)
    op.create_table('session_turns',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('session_id', sa.String(length=40), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('turn', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('session_turns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_turns_session_id'), ['session_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('session_turns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_turns_session_id'))
    op.drop_table('session_turns')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sessions_created_at'))
        batch_op.drop_index(batch_op.f('ix_sessions_state'))
        batch_op.drop_index(batch_op.f('ix_sessions_token_id'))
    op.drop_table('sessions')
