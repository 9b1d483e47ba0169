"""drop test_results.second_outcome (written by validation, never read: ``flaky`` says the runs differed)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('test_results', schema=None) as batch_op:
        batch_op.drop_column('second_outcome')


def downgrade() -> None:
    with op.batch_alter_table('test_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('second_outcome', sa.String(length=10), nullable=True))
