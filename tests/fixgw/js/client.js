// An independent FIX engine (jspurefix) as a client of the venue: logs on, places an order, reads
// the security list, subscribes to market data, cancels, asks for positions and collateral, logs out.
// Usage: node client.js PORT DICTIONARY_PATH. Prints one JSON line per received application message
// and exits 0 after the logout, 1 on a timeout.
require('reflect-metadata')
const { SessionLauncher, AsciiSession } = require('jspurefix')

const [port, dictionary] = process.argv.slice(2)
const config = {
  application: {
    reconnectSeconds: 0, type: 'initiator', name: 'jspurefix_client',
    tcp: { host: '127.0.0.1', port: Number(port) }, protocol: 'ascii', dictionary
  },
  Username: 'hf2', Password: 'demo-hf2', EncryptMethod: 0, ResetSeqNumFlag: true, HeartBtInt: 30,
  SenderCompId: 'HF2', TargetCompID: 'VENUE', BeginString: 'FIX.4.4'
}

const print = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

class Client extends AsciiSession {
  constructor (cfg) {
    super(cfg)
    this.seen = {}
  }

  onApplicationMsg (msgType, view) {
    const body = view.toObject()
    print({ event: 'app', type: msgType, body })
    this.seen[msgType] = (this.seen[msgType] || 0) + 1
    if (msgType === '8' && body.ClOrdID === 'js-1' && body.ExecType === '0') {
      this.send('x', { SecurityReqID: 'js-sl', SecurityListRequestType: 0, Instrument: { Symbol: 'BTC-PERP' } })
    } else if (msgType === 'y') {
      this.send('V', {
        MDReqID: 'js-md', SubscriptionRequestType: '1', MarketDepth: 0, MDUpdateType: 1,
        MDReqGrp: { NoMDEntryTypes: [{ MDEntryType: '0' }, { MDEntryType: '1' }] },
        InstrmtMDReqGrp: { NoRelatedSym: [{ Instrument: { Symbol: 'BTC-PERP' } }] }
      })
    } else if (msgType === 'W') {
      this.send('F', {
        ClOrdID: 'js-1c', OrigClOrdID: 'js-1', Side: '1', Instrument: { Symbol: 'BTC-PERP' },
        TransactTime: new Date(), OrderQtyData: { OrderQty: 0.2 }
      })
    } else if (msgType === '8' && body.ExecType === '4') {
      this.send('AN', { PosReqID: 'js-pos', PosReqType: 0 })
    } else if (msgType === 'AO') {
      this.send('BB', { CollInquiryID: 'js-coll' })
    } else if (msgType === 'BA') {
      print({ event: 'done', seen: this.seen })
      this.done()
    }
  }

  onReady (view) {
    print({ event: 'ready' })
    this.send('D', {
      ClOrdID: 'js-1', Side: '1', TransactTime: new Date(), OrdType: '2', Price: 90000,
      Instrument: { Symbol: 'BTC-PERP' }, OrderQtyData: { OrderQty: 0.2 }, TimeInForce: '1'
    })
  }

  onLogon (view, user, password) { return true }
  onStopped () { print({ event: 'stopped' }); process.exit(0) }
  onDecoded (msgType, txt) {}
  onEncoded (msgType, txt) {}
}

class Launcher extends SessionLauncher {
  constructor () { super(config, null) }
  makeFactory (cfg) { return { makeSession: (c) => new Client(c) } }
}

setTimeout(() => { print({ event: 'timeout' }); process.exit(1) }, 20000)
new Launcher().exec()
