// Dashboard entry: starts the hub (channel + sampler), renders the UI, exposes window.__smc.
import { createRoot } from 'react-dom/client';
import { App } from './ui/App';
import { Hub } from './ui/hub';
import { installTestApi } from './ui/testapi';
import './ui/styles.css';

const hub = new Hub();
installTestApi(hub);
hub.start();
createRoot(document.getElementById('root')!).render(<App hub={hub} />);
