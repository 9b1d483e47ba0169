"""build owner (host:pid of the process running it) and the farm id

Revision ID: 0002
Revises: 0001
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('builds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=200), nullable=True))
    farm = op.create_table('farm',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.bulk_insert(farm, [{'id': uuid.uuid4().hex[:8]}])


def downgrade() -> None:
    op.drop_table('farm')
    with op.batch_alter_table('builds', schema=None) as batch_op:
        batch_op.drop_column('owner')
