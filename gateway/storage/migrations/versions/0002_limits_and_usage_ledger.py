"""limits and usage ledger

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('model_price',
    sa.Column('backend', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('input_per_million', sa.Float(), nullable=False),
    sa.Column('output_per_million', sa.Float(), nullable=False),
    sa.Column('per_gpu_second', sa.Float(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('backend', 'model')
    )
    op.create_table('usage_daily',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('fallbacks', sa.Integer(), nullable=False),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('cost', sa.Float(), nullable=False),
    sa.Column('latency_ms_total', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('tenant_id', 'day', 'model')
    )
    op.create_table('usage_record',
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('endpoint', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('backend', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('cost', sa.Float(), nullable=False),
    sa.Column('latency_ms', sa.Float(), nullable=False),
    sa.Column('ttft_ms', sa.Float(), nullable=True),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('fallback', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('request_id')
    )
    with op.batch_alter_table('usage_record', schema=None) as batch_op:
        batch_op.create_index('ix_usage_record_tenant_created', ['tenant_id', 'created_at'], unique=False)

    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rpm', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('tps', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('daily_tokens', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_concurrency', sa.Integer(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_column('max_concurrency')
        batch_op.drop_column('daily_tokens')
        batch_op.drop_column('tps')
        batch_op.drop_column('rpm')

    with op.batch_alter_table('usage_record', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_record_tenant_created')

    op.drop_table('usage_record')
    op.drop_table('usage_daily')
    op.drop_table('model_price')
