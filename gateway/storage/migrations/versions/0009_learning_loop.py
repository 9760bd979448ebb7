"""learning loop: preference pairs, labels, training jobs (and the sampled traffic they start from)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('label_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('labels_needed', sa.Integer(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('label_studio_project', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('label_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_label_batch_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('traffic_sample',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('messages', sa.JSON(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('used_in_batch', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('traffic_sample', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_traffic_sample_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_traffic_sample_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_traffic_sample_used_in_batch'), ['used_in_batch'], unique=False)

    op.create_table('traffic_sampling',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('rate', sa.Float(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('tenant_id')
    )
    op.create_table('training_dataset',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('path', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('card', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('training_dataset', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_dataset_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('prompt_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('messages', sa.JSON(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['label_batch.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('prompt_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prompt_case_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_prompt_case_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('training_job',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('runner', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('total_steps', sa.Integer(), nullable=True),
    sa.Column('losses', sa.JSON(), nullable=False),
    sa.Column('eta_seconds', sa.Float(), nullable=True),
    sa.Column('work_dir', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('artifact_path', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('adapter', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['dataset_id'], ['training_dataset.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('training_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_job_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_job_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('candidate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('origin', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompt_case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('candidate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_candidate_prompt_id'), ['prompt_id'], unique=False)

    op.create_table('judge_score',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('judge', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidate.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('candidate_id', 'judge')
    )
    with op.batch_alter_table('judge_score', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_judge_score_candidate_id'), ['candidate_id'], unique=False)

    op.create_table('preference_pair',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('candidate_a', sa.Integer(), nullable=False),
    sa.Column('candidate_b', sa.Integer(), nullable=False),
    sa.Column('label_studio_task', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['label_batch.id'], ),
    sa.ForeignKeyConstraint(['candidate_a'], ['candidate.id'], ),
    sa.ForeignKeyConstraint(['candidate_b'], ['candidate.id'], ),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompt_case.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('preference_pair', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_preference_pair_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_preference_pair_label_studio_task'), ['label_studio_task'], unique=False)
        batch_op.create_index(batch_op.f('ix_preference_pair_prompt_id'), ['prompt_id'], unique=False)

    op.create_table('pair_label',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pair_id', sa.Integer(), nullable=False),
    sa.Column('reviewer', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
    sa.Column('presented', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('choice', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pair_id'], ['preference_pair.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pair_id', 'reviewer')
    )
    with op.batch_alter_table('pair_label', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pair_label_pair_id'), ['pair_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pair_label_reviewer'), ['reviewer'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pair_label', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pair_label_reviewer'))
        batch_op.drop_index(batch_op.f('ix_pair_label_pair_id'))

    op.drop_table('pair_label')
    with op.batch_alter_table('preference_pair', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_preference_pair_prompt_id'))
        batch_op.drop_index(batch_op.f('ix_preference_pair_label_studio_task'))
        batch_op.drop_index(batch_op.f('ix_preference_pair_batch_id'))

    op.drop_table('preference_pair')
    with op.batch_alter_table('judge_score', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_judge_score_candidate_id'))

    op.drop_table('judge_score')
    with op.batch_alter_table('candidate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_candidate_prompt_id'))

    op.drop_table('candidate')
    with op.batch_alter_table('training_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_job_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_training_job_state'))

    op.drop_table('training_job')
    with op.batch_alter_table('prompt_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prompt_case_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_prompt_case_batch_id'))

    op.drop_table('prompt_case')
    with op.batch_alter_table('training_dataset', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_dataset_tenant_id'))

    op.drop_table('training_dataset')
    op.drop_table('traffic_sampling')
    with op.batch_alter_table('traffic_sample', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_traffic_sample_used_in_batch'))
        batch_op.drop_index(batch_op.f('ix_traffic_sample_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_traffic_sample_created_at'))

    op.drop_table('traffic_sample')
    with op.batch_alter_table('label_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_label_batch_tenant_id'))

    op.drop_table('label_batch')
