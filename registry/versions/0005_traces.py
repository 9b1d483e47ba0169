"""traces: execution traces collected from validated images (``forager.traces``)

Revision ID: 0004_traces
Revises: 0004_sessions
"""

import sqlalchemy as sa
from alembic import op

revision = '0004_traces'
down_revision = '0004_sessions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'traces',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('image_id', sa.String(length=300), nullable=False),
        sa.Column('repository', sa.String(length=500), nullable=False),
        sa.Column('path', sa.Text(), nullable=False),
        sa.Column('function', sa.String(length=500), nullable=False),
        sa.Column('first_line', sa.Integer(), nullable=False),
        sa.Column('test', sa.Text(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('caller', sa.String(length=500), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('engine', sa.String(length=20), nullable=False),
        sa.Column('python', sa.String(length=20), nullable=False),
        sa.Column('seed', sa.Integer(), nullable=False),
        sa.Column('n_frames', sa.Integer(), nullable=False),
        sa.Column('size_bytes', sa.Integer(), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('frames', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('traces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_traces_image_id'), ['image_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_traces_repository'), ['repository'], unique=False)
        batch_op.create_index(batch_op.f('ix_traces_fingerprint'), ['fingerprint'], unique=False)
        batch_op.create_index(batch_op.f('ix_traces_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_table('traces')
