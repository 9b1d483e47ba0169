"""campaigns, their items, and image pushes to a container registry

Revision ID: 0004_campaign
Revises: 0004_traces
"""

import sqlalchemy as sa
from alembic import op

revision = '0004_campaign'
down_revision = '0004_traces'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'campaigns',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('spec', sa.JSON(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('runner', sa.String(length=200), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )
    op.create_index('ix_campaigns_state', 'campaigns', ['state'])
    op.create_table(
        'campaign_items',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('campaign_id', sa.String(length=40), nullable=False),
        sa.Column('stage', sa.String(length=20), nullable=False),
        sa.Column('key', sa.String(length=500), nullable=False),
        sa.Column('parent_id', sa.String(length=40), nullable=True),
        sa.Column('source', sa.String(length=500), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('job_id', sa.String(length=40), nullable=True),
        sa.Column('cause', sa.String(length=40), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('result', sa.JSON(), nullable=False),
        sa.Column('retry_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('campaign_id', 'stage', 'key', name='uq_campaign_item_key'),
    )
    op.create_index('ix_campaign_items_campaign_id', 'campaign_items', ['campaign_id'])
    op.create_index('ix_campaign_items_stage', 'campaign_items', ['stage'])
    op.create_index('ix_campaign_items_state', 'campaign_items', ['state'])
    op.create_table(
        'image_pushes',
        sa.Column('image_id', sa.String(length=300), nullable=False),
        sa.Column('registry_host', sa.String(length=300), nullable=False),
        sa.Column('ref', sa.String(length=600), nullable=False),
        sa.Column('digest', sa.String(length=100), nullable=False),
        sa.Column('pushed_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('image_id', 'registry_host'),
    )


def downgrade() -> None:
    op.drop_table('image_pushes')
    op.drop_index('ix_campaign_items_state', table_name='campaign_items')
    op.drop_index('ix_campaign_items_stage', table_name='campaign_items')
    op.drop_index('ix_campaign_items_campaign_id', table_name='campaign_items')
    op.drop_table('campaign_items')
    op.drop_index('ix_campaigns_state', table_name='campaigns')
    op.drop_table('campaigns')
