import type { Schema } from '@meridian/sdk';
import { useState } from 'react';
import { useApp } from '../api/context';
import { PageHeader } from '../components/page-header';
import { SignatureView } from '../components/signature-view';
import { DeployStep } from './deploy-step';
import { KeyStep } from './key-step';
import { PredictStep } from './predict-step';
import { Snippets } from './snippets';
import { Step } from './step';
import { UploadStep } from './upload-step';

type Model = Schema<'Model'>;
type ModelVersion = Schema<'ModelVersion'>;
type Deployment = Schema<'Deployment'>;

/** The guided first run: upload → signature → deploy → API key → a prediction from the browser → snippets. */
export function OnboardingPage() {
  const { role } = useApp();
  const [model, setModel] = useState<Model>();
  const [version, setVersion] = useState<ModelVersion>();
  const [deployment, setDeployment] = useState<Deployment>();
  const [secret, setSecret] = useState<string>();
  if (role === 'viewer') {
    return (
      <>
        <PageHeader title="Get started" />
        <p>You are a viewer in this organisation: browse its models, deployments and usage from the menu.</p>
      </>
    );
  }
  return (
    <>
      <PageHeader title="Get started" />
      <p>Five steps from a model file to a prediction from this page.</p>
      <ol className="steps">
        <Step n={1} title="Upload a model" done={version !== undefined}>
          <UploadStep model={model} onModel={setModel} onVersion={setVersion} />
          {version ? <SignatureView signature={version.signature} /> : null}
        </Step>
        <Step n={2} title="Deploy it" done={deployment?.status === 'ready'} locked={!version}>
          {model && version ? (
            <DeployStep model={model} version={version} onDeployment={setDeployment} />
          ) : null}
        </Step>
        <Step
          n={3}
          title="Create an API key"
          done={secret !== undefined}
          locked={deployment?.status !== 'ready'}
        >
          <KeyStep onKey={setSecret} />
        </Step>
        <Step n={4} title="Send a test prediction" locked={!secret || !deployment}>
          {deployment && version && secret ? (
            <PredictStep deployment={deployment} signature={version.signature} apiKey={secret} />
          ) : null}
        </Step>
        <Step n={5} title="Call it from your code" locked={!deployment}>
          {deployment && version ? <Snippets deployment={deployment} signature={version.signature} /> : null}
        </Step>
      </ol>
    </>
  );
}
