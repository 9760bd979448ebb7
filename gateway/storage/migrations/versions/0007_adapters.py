"""LoRA adapters: registry and tenant assignments

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('adapter_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('format', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('base_model', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('target_modules', sa.JSON(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('uploaded_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('lineage', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', 'version')
    )
    with op.batch_alter_table('adapter_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adapter_version_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_adapter_version_sha256'), ['sha256'], unique=False)

    op.create_table('adapter_assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('alias', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('stable_id', sa.Integer(), nullable=False),
    sa.Column('canary_id', sa.Integer(), nullable=True),
    sa.Column('canary_percent', sa.Float(), nullable=False),
    sa.Column('split_by', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.ForeignKeyConstraint(['stable_id'], ['adapter_version.id'], ),
    sa.ForeignKeyConstraint(['canary_id'], ['adapter_version.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'alias')
    )
    with op.batch_alter_table('adapter_assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adapter_assignment_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_adapter_assignment_stable_id'), ['stable_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_adapter_assignment_canary_id'), ['canary_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('adapter_assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adapter_assignment_canary_id'))
        batch_op.drop_index(batch_op.f('ix_adapter_assignment_stable_id'))
        batch_op.drop_index(batch_op.f('ix_adapter_assignment_tenant_id'))

    op.drop_table('adapter_assignment')
    with op.batch_alter_table('adapter_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adapter_version_sha256'))
        batch_op.drop_index(batch_op.f('ix_adapter_version_name'))

    op.drop_table('adapter_version')
